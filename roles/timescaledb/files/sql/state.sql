-- Everything the timescaledb role converges inside the database, read in one round
-- trip as the superuser: server and extension versions, the edition, the database
-- owner, the three roles (attributes and password verifiers), the database's
-- privileges and the owner's default privileges. The role changes only what differs.
-- Parameters: the names of the owner, application and reporting roles.
SELECT split_part(current_setting('server_version'), ' ', 1) AS postgres_version,
       current_setting('server_version_num')::int / 10000 AS postgres_major,
       current_setting('shared_preload_libraries') AS preload_libraries,
       (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available_version,
       (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed_version,
       current_setting('timescaledb.license', true) AS license,
       (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS database_owner,
       (SELECT coalesce(json_object_agg(rolname, json_build_object(
                  'login', rolcanlogin, 'superuser', rolsuper, 'createdb', rolcreatedb,
                  'createrole', rolcreaterole, 'replication', rolreplication,
                  'bypassrls', rolbypassrls, 'inherit', rolinherit, 'password', rolpassword)), '{}')
          FROM pg_authid WHERE rolname IN (%(owner)s, %(app)s, %(readonly)s)) AS roles,
       -- Privileges on the database per grantee ('PUBLIC' for everyone); a NULL ACL
       -- means the built-in default (PUBLIC may CONNECT and create TEMPORARY tables).
       (SELECT coalesce(json_object_agg(grantee, privileges), '{}')
          FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                       json_agg(a.privilege_type ORDER BY a.privilege_type) AS privileges
                  FROM pg_database AS d,
                       aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a
                 WHERE d.datname = current_database()
                 GROUP BY 1) AS p) AS database_privileges,
       -- Default privileges FOR ROLE <owner> in every schema, as "grantee:objtype" ->
       -- [privileges] (objtype n = schemas, r = tables, S = sequences).
       (SELECT coalesce(json_object_agg(key, privileges), '{}')
          FROM (SELECT pg_get_userbyid(a.grantee) || ':' || da.defaclobjtype::text AS key,
                       json_agg(a.privilege_type ORDER BY a.privilege_type) AS privileges
                  FROM pg_default_acl AS da, aclexplode(da.defaclacl) AS a
                 WHERE da.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = %(owner)s)
                   AND da.defaclnamespace = 0
                 GROUP BY 1) AS p) AS default_privileges
