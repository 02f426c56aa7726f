"""Every model cinerec ships, reachable by name through :data:`MODELS`.

Each module below registers its models when imported; add new ones here.
"""

from cinerec.models.base import MODELS, Recommender, RatingRecommender, create, load_model, top_k

__all__ = ["MODELS", "Recommender", "RatingRecommender", "create", "load_model", "top_k"]
import cinerec.models.als  # noqa: F401
import cinerec.models.baselines  # noqa: F401
import cinerec.models.autoencoder  # noqa: F401
import cinerec.models.mf  # noqa: F401
import cinerec.models.ncf  # noqa: F401
import cinerec.models.mlp_rating  # noqa: F401
import cinerec.models.two_tower  # noqa: F401
import cinerec.models.bpmf  # noqa: F401
import cinerec.models.knn_rating  # noqa: F401
import cinerec.models.blend  # noqa: F401
import cinerec.models.two_stage  # noqa: F401
import cinerec.models.sequential  # noqa: F401
import cinerec.models.ensemble  # noqa: F401
