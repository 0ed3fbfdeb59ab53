"""ms5_backup: backups, verification, rotation and restore of the MS5.0 database.

The package behind /usr/local/sbin/ms5-backup (Python 3, standard library only),
installed by the ms5.factory_telemetry.backup role into /usr/local/lib/ms5-backup.
One module per concern:

  errors        BackupError, the failure meant for the operator
  config        /etc/ms5/backup.conf (KEY=VALUE) and its typed values
  names         backup file names, manifests on disk, listing a backups directory
  rotation      which backups the rotation policy keeps and deletes
  log           log lines to stderr, the log file and syslog
  lock          the exclusive run lock
  database      psql, pg_dump and pg_restore inside the database container
  tables        row counts and content fingerprints, and comparing them
  verification  when and how thoroughly a backup is test-restored
  scratch       restoring a dump into a new database with its TimescaleDB jobs held
  dump          making a backup and its manifest
  restore       checking a backup and swapping a restored copy in place of the live database
  selection     which backup a rollback restores (and the pin of an unfinished rollback)
  status        the host job status file and `ms5-backup --status`
  health        health-check pings
  cli           the command line
"""

PROG = "ms5-backup"
