-- Databases beside `warehouse` (created by POSTGRES_DB) on the compose Postgres.
create database airflow owner growthlab;
create database mlflow owner growthlab;
create role analyst login password 'change-me';
grant connect on database warehouse to analyst;
