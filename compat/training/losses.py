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
  supcon              supervised contrastive over stance groups (compat.generator.groups, StanceSupConLoss
                      below), not pairs: each statement must pick out its own side of its own trait among
                      every statement of the batch, and, in a second term, among its own trait's only
  mnrl+supcon,        batches of pairs (or triplets) and of stance groups, mixed in proportion to their
  cosent+supcon       numbers: the pairs carry the labels of the data set (hand corrections too), the
                      groups the stance of composed wording
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Margin of the contrastive losses in cosine distance: incompatible pairs are pushed to cos <= 0.5.
CONTRASTIVE_MARGIN = 0.5
COSENT_SCALE = 20.0
SUPCON_TEMPERATURE = 0.05  # the same sharpness as cosent's scale of 20


class StanceSupConLoss(nn.Module):
    """Supervised contrastive loss over stance groups: rows of 2k statements (k of a trait's pos side,
    then k of its neg side), labelled with the trait's index.

    With every statement of the batch embedded (L2-normalised), statement i's positives P(i) are the
    statements with its trait and side; the loss is the mean over i of -mean_{p in P(i)} log softmax_j
    (cos(i, j) / temperature) at p, the softmax over all other statements of the batch (the term that
    keeps topic: other traits are negatives), plus `stance_weight` times the same with the softmax over
    i's own trait only (the term that teaches stance: the other side of the topic is all there is).
    Statements of two different traits that `conflicts` marks (antonyms, whose pos side is the other's
    neg side; related traits, whose same sides go together) are left out of each other's softmax: they
    are neither the same preference nor an unrelated one.
    """

    def __init__(self, model, conflicts: torch.Tensor, temperature: float = SUPCON_TEMPERATURE,
                 stance_weight: float = 1.0):
        super().__init__()
        self.model = model
        self.register_buffer("conflicts", conflicts.bool(), persistent=False)
        self.temperature = temperature
        self.stance_weight = stance_weight

    def forward(self, sentence_features, labels: torch.Tensor) -> torch.Tensor:
        columns = [F.normalize(self.model(f)["sentence_embedding"], dim=-1) for f in sentence_features]
        k = len(columns) // 2
        emb = torch.stack(columns, dim=1).flatten(0, 1)  # row-major: row r's statements are r*2k ... r*2k+2k-1
        trait = labels.long().repeat_interleave(2 * k)
        side = torch.tensor([0] * k + [1] * k, device=emb.device).repeat(len(labels))
        self_mask = torch.eye(len(trait), dtype=torch.bool, device=emb.device)
        same_trait = trait[:, None] == trait[None, :]
        positive = same_trait & (side[:, None] == side[None, :]) & ~self_mask
        left_out = self_mask | self.conflicts.to(emb.device)[trait][:, trait]
        logits = emb @ emb.T / self.temperature
        loss = supcon_term(logits, positive, left_out)
        if self.stance_weight:
            loss = loss + self.stance_weight * supcon_term(logits, positive, left_out | ~same_trait)
        return loss


def supcon_term(logits: torch.Tensor, positive: torch.Tensor, left_out: torch.Tensor) -> torch.Tensor:
    """Mean over rows with a positive of -mean over positives of the log softmax (over columns not left
    out) at the positive."""
    logits = logits.masked_fill(left_out, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    count = positive.sum(1)
    rows = count > 0
    per_row = -log_prob.masked_fill(~positive, 0).sum(1)[rows] / count[rows]
    return per_row.mean()


def group_conflicts(groups: list[dict]) -> tuple[dict[str, int], torch.Tensor]:
    """(trait -> label index, conflicts matrix) of a stance-group set: index order is sorted trait names;
    conflicts[a, b] is True when a group of trait a lists b among its antonyms or related traits (or the
    other way)."""
    def linked(g: dict) -> list[str]:
        return [*g.get("antonyms", ()), *g.get("related", ())]

    names = sorted({g["trait"] for g in groups} | {t for g in groups for t in linked(g)})
    index = {name: i for i, name in enumerate(names)}
    conflicts = torch.zeros(len(names), len(names), dtype=torch.bool)
    for g in groups:
        for other in linked(g):
            conflicts[index[g["trait"]], index[other]] = conflicts[index[other], index[g["trait"]]] = True
    return index, conflicts


def build_loss(name: str, model, groups: list[dict] | None = None):
    """The sentence-transformers loss module `name` (see module docstring) bound to `model`; the
    supcon losses need the stance `groups` they train on (for the antonym conflicts)."""
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
    if name == "supcon":
        return StanceSupConLoss(model, group_conflicts(groups or [])[1])
    if name in ("cosent+supcon", "mnrl+supcon"):  # keys match compat.training.data.to_dataset's
        return {"pairs": build_loss(name.split("+")[0], model), "groups": build_loss("supcon", model, groups)}
    raise ValueError(f"unknown loss {name!r}")
