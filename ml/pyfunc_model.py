"""MLflow "model from code" entry point: the pyfunc registered as lead_scoring.

MLflow copies this file into the logged model and runs it at load time; it only names the class,
so no pickled Python object travels with the model. The bundle itself is in the model's artifacts.
"""

from mlflow.models import set_model

from ml.model import LeadScoringModel

set_model(LeadScoringModel())
