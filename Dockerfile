# growthlab image for the production-like compose deployment (docker-compose.yaml).
# Airflow 3.3 on Python 3.11 with the project's pinned lock; DAGs, plugins, dbt project, ml and
# expectations are mounted as volumes so a deploy is a git pull.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libgomp1 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

COPY --chown=airflow:root requirements.txt /opt/growthlab/requirements.txt
RUN pip install --no-cache-dir -r /opt/growthlab/requirements.txt

COPY --chown=airflow:root pyproject.toml README.md /opt/growthlab/
COPY --chown=airflow:root growthlab /opt/growthlab/growthlab
COPY --chown=airflow:root ml /opt/growthlab/ml
COPY --chown=airflow:root expectations /opt/growthlab/expectations
RUN pip install --no-cache-dir --no-deps -e /opt/growthlab

ENV DO_NOT_TRACK=1 \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    GX_ANALYTICS_ENABLED=False \
    SCARF_ANALYTICS=false \
    MLFLOW_ENABLE_TELEMETRY=false \
    GROWTHLAB_PROJECT_DIR=/opt/airflow \
    GROWTHLAB_DBT_EXECUTABLE=/home/airflow/.local/bin/dbt
