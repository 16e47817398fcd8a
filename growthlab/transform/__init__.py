"""dbt for growthlab: where the project lives, the profile from a warehouse URL, running dbt.

The dbt project itself is `dbt_project/` (models, seeds, macros, tests). Airflow runs it through
Cosmos (`dags/warehouse_build.py`, configured by `growthlab.transform.cosmos_build`); people run
it with `growthlab dbt ARGS` (`growthlab.transform.cli`); tests and benchmarks call
`growthlab.transform.runner.run_dbt`.
"""
