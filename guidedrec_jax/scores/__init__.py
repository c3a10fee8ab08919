"""Model-selection scores: one module per family, registered by name on import.

`registry.SCORES` maps names to `ScoreSpec`s; `zoo.score_zoo` scores a whole zoo at once.
Functions named like their module (`leep.leep`, `sfda.sfda`, `logme.logme`, ...) are reached
through the module, since re-exporting them here would hide the module itself.
"""

from guidedrec_jax.scores import etran
from guidedrec_jax.scores import gbc
from guidedrec_jax.scores import hscore
from guidedrec_jax.scores import leep
from guidedrec_jax.scores import lfc
from guidedrec_jax.scores import logme
from guidedrec_jax.scores import ncti
from guidedrec_jax.scores import nleep
from guidedrec_jax.scores import normalize
from guidedrec_jax.scores import parc
from guidedrec_jax.scores import sfda
from guidedrec_jax.scores import transrate
from guidedrec_jax.scores import zoo
from guidedrec_jax.scores.etran import etran_components, etran_from_components
from guidedrec_jax.scores.leep import nce
from guidedrec_jax.scores.ncti import ncti_components, ncti_from_components
from guidedrec_jax.scores.registry import SCORES, get_score
from guidedrec_jax.scores.zoo import score_zoo, scores_table_rows
