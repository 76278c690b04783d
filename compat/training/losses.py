"""The contrastive-family losses a run can train with, for pairs labelled 1 (compatible) / 0 (incompatible).

Every loss pulls compatible pairs together and pushes incompatible ones apart in cosine similarity:
  contrastive         label 1: (1 - cos)^2 / 2; label 0: max(0, margin - (1 - cos))^2 / 2
  online_contrastive  the same, on the batch's hard pairs only (compatible pairs that are far apart,
                      incompatible pairs that are close)
  cosine              (cos - label)^2: label 1 -> cosine 1, label 0 -> cosine 0
  signed_cosine       (cos - target)^2 with target 1 for compatible, -1 for incompatible, and 0 for the
                      unrelated pairs the run adds (statements of different categories; see
                      compat.training.data.unrelated_pairs): compatible statements align, incompatible
                      ones point apart, other topics stay orthogonal, so cosines keep a readable scale
                      (cosent, which only ranks, lets both classes drift to ~0.9)
  cosent              log(1 + sum over (compatible i, incompatible j) of exp(scale * (cos_j - cos_i))):
                      only the ranking of pairs matters, not where the cosines sit
  mnrl                multiple negatives ranking on (anchor, compatible, incompatible-on-the-same-topic)
                      triplets (compat.training.data.hard_triplets): the anchor's compatible statement
                      must outscore its hard negative and every other statement in the batch, so topic is
                      kept (other topics are in-batch negatives) while stance is learnt (the hard negative)
  cosent+mnrl         both, one batch of each in turn (round robin): cosent separates the labels, mnrl
                      keeps topic, so matching against a pool does not get worse
"""

from __future__ import annotations

# Margin of the contrastive losses in cosine distance: incompatible pairs are pushed to cos <= 0.5.
CONTRASTIVE_MARGIN = 0.5
COSENT_SCALE = 20.0


def build_loss(name: str, model):
    """The sentence-transformers loss module `name` (see module docstring) bound to `model`."""
    from sentence_transformers.sentence_transformer import losses

    if name == "contrastive":
        return losses.ContrastiveLoss(model, margin=CONTRASTIVE_MARGIN)
    if name == "online_contrastive":
        return losses.OnlineContrastiveLoss(model, margin=CONTRASTIVE_MARGIN)
    if name in ("cosine", "signed_cosine"):  # they differ in their targets (see data.to_dataset)
        return losses.CosineSimilarityLoss(model)
    if name == "cosent":
        return losses.CoSENTLoss(model, scale=COSENT_SCALE)
    if name == "mnrl":
        return losses.MultipleNegativesRankingLoss(model)
    if name == "cosent+mnrl":  # keys match compat.training.data.to_dataset's
        return {"pairs": build_loss("cosent", model), "triplets": build_loss("mnrl", model)}
    raise ValueError(f"unknown loss {name!r}")
