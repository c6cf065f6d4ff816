"""Item catalogs: initial items and the items creators publish each step."""

from __future__ import annotations

import math

import pydantic
import torch
from torch import Tensor

from simlab.core.state import Catalog


class CreatorCatalog:
    """Items published by creators, each with a home stance and topic.

    A creator c has stance z_c ~ U[-1,1]^K and a topic; its items have stance
    y_j = clip(z_c + N(0, item_spread^2)), the creator's topic with probability
    ``topic_loyalty`` (else a uniform topic), and quality q_j ~ U[0,1].
    Supply-side drift (``creator_drift`` > 0): after each step a creator moves its stance
    along the engagement-weighted direction of its own items,
    z_c += drift * sum_j (n_j - mean n) (y_j - z_c) / sum_j |n_j - mean n|, over the creator's
    items engaged this step (n_j engagements), i.e. toward the variants that earned more.

    Latent attributes (``taste_dims`` D > 0): a creator has an attribute profile w_c ~ N(0, I_D)
    and its items v_j = (w_c + attribute_spread * N(0, I_D)) / sqrt(1 + attribute_spread^2), so
    every coordinate of v_j has unit variance and items of one creator appeal to similar tastes.
    Users hold taste vectors u_i ~ N(0, I_D) (the population draws them) and the engagement model
    scores u_i . v_j / sqrt(D): the user-by-item preference of T-RECS (user profiles and item
    attributes), RecSim (interest vectors) and Chaney, Stewart & Engelhardt (RecSys 2018).

    Reliability (``reliability: true``; off by default): each item has r_j in (0, 1), drawn by a
    Gaussian copula from its mass appeal and its extremeness (see :func:`reliability_of`), so
    that with the default negative correlations the items that attract engagement everywhere
    (high q_j) and the extreme ones are the less reliable: "one of the easiest ways [to attract
    engagement] is to present false claims" (the lecture, after Spinelli & Crovella, UMAP 2020
    adjunct). The platform does not observe r_j.
    """

    class Settings(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        size: int = pydantic.Field(1250, ge=1, le=100_000_000, description="initial items M0")
        topics: int = pydantic.Field(8, ge=1, le=100_000, description="T, number of topics")
        creators: int = pydantic.Field(100, ge=1, le=100_000_000, description="number of creators publishing items")
        new_per_step: int = pydantic.Field(10, ge=0, le=10_000_000, description="items published after each step")
        item_spread: float = pydantic.Field(
            0.2, ge=0, description="std of an item's stance around its creator's stance z_c (then clipped)"
        )
        topic_loyalty: float = pydantic.Field(
            0.8, ge=0, le=1, description="probability that an item has its creator's topic (else a uniform one)"
        )
        creator_drift: float = pydantic.Field(
            0.0, ge=0, le=1, description="supply-side drift: step of z_c toward its best-engaged items (0 = none)"
        )
        taste_dims: int = pydantic.Field(
            3, ge=0, le=4096, description="D, latent attribute (taste) dimensions of items and users (0 = none)"
        )
        attribute_spread: float = pydantic.Field(
            0.25, ge=0, description="std of an item's attributes around its creator's profile w_c (before rescaling)"
        )
        reliability: bool = pydantic.Field(
            False, description="give items a reliability r_j in (0, 1), correlated with appeal and extremeness"
        )
        reliability_appeal: float = pydantic.Field(
            -0.6, ge=-1, le=1, description="rho_q, latent correlation of reliability r_j with appeal q_j"
        )
        reliability_extremeness: float = pydantic.Field(
            -0.4, ge=-1, le=1, description="rho_e, latent correlation of reliability r_j with extremeness e_j"
        )

        @pydantic.model_validator(mode="after")
        def _check_correlations(self) -> CreatorCatalog.Settings:
            total = self.reliability_appeal**2 + self.reliability_extremeness**2
            if total > 1:
                raise ValueError(
                    "expected reliability_appeal^2 + reliability_extremeness^2 <= 1 (the two latent correlations "
                    f"of the copula), found {total:.3f}"
                )
            return self

    def __init__(self, settings: Settings):
        self.settings = settings
        self.creator_stance: Tensor | None = None
        self.creator_topic: Tensor | None = None
        self.creator_attributes: Tensor | None = None

    @property
    def topics(self) -> int:
        return self.settings.topics

    @property
    def taste_dims(self) -> int:
        return self.settings.taste_dims

    def initial(self, axes: int, generator: torch.Generator, device: torch.device) -> Catalog:
        s = self.settings
        self.creator_stance = torch.rand(s.creators, axes, generator=generator, device=device) * 2 - 1
        self.creator_topic = torch.randint(s.topics, (s.creators,), generator=generator, device=device)
        if s.taste_dims:  # drawn after the other creator draws, which stay as they were without it
            self.creator_attributes = torch.randn(s.creators, s.taste_dims, generator=generator, device=device)
        capacity = s.size + 16 * max(s.new_per_step, 1)
        catalog = Catalog(
            stance=torch.zeros(capacity, axes, device=device),
            topic=torch.zeros(capacity, dtype=torch.long, device=device),
            creator=torch.zeros(capacity, dtype=torch.long, device=device),
            quality=torch.zeros(capacity, device=device),
            created=torch.zeros(capacity, dtype=torch.long, device=device),
            impressions=torch.zeros(capacity, dtype=torch.long, device=device),
            engagements=torch.zeros(capacity, dtype=torch.long, device=device),
            size=0,
            attributes=torch.zeros(capacity, s.taste_dims, device=device) if s.taste_dims else None,
            reliability=torch.zeros(capacity, device=device) if s.reliability else None,
        )
        catalog.append(**self._draw(s.size, 0, generator))
        return catalog

    def _draw(self, n: int, step: int, generator: torch.Generator) -> dict[str, Tensor]:
        s = self.settings
        assert self.creator_stance is not None and self.creator_topic is not None
        device = self.creator_stance.device
        creator = torch.randint(s.creators, (n,), generator=generator, device=device)
        noise = torch.randn(n, self.creator_stance.shape[1], generator=generator, device=device)
        stance = (self.creator_stance[creator] + s.item_spread * noise).clamp(-1, 1)
        loyal = torch.rand(n, generator=generator, device=device) < s.topic_loyalty
        topic = torch.where(
            loyal, self.creator_topic[creator], torch.randint(s.topics, (n,), generator=generator, device=device)
        )
        quality = torch.rand(n, generator=generator, device=device)
        created = torch.full((n,), step, dtype=torch.long, device=device)
        columns = {"stance": stance, "topic": topic, "creator": creator, "quality": quality, "created": created}
        if self.creator_attributes is not None:
            spread = s.attribute_spread
            noise = torch.randn(n, s.taste_dims, generator=generator, device=device)
            columns["attributes"] = (self.creator_attributes[creator] + spread * noise) / math.sqrt(1 + spread**2)
        if s.reliability:  # drawn last, and only when asked: a world without it draws what it drew before
            noise = torch.randn(n, generator=generator, device=device)
            extremeness = stance.abs().amax(dim=1)
            columns["reliability"] = reliability_of(
                quality, extremeness, noise, s.reliability_appeal, s.reliability_extremeness
            )
        return columns

    def new_items(
        self, catalog: Catalog, engaged_item: Tensor, step: int, generator: torch.Generator
    ) -> dict[str, Tensor]:
        """Drift creators on this step's engagements (E,), then draw the next step's items."""
        if self.settings.creator_drift > 0 and engaged_item.numel():
            self._drift(catalog, engaged_item)
        return self._draw(self.settings.new_per_step, step, generator)

    def _drift(self, catalog: Catalog, engaged_item: Tensor) -> None:
        assert self.creator_stance is not None
        items, counts = torch.unique(engaged_item, return_counts=True)
        creator = catalog.creator[items]
        n_creators = self.creator_stance.shape[0]
        counts = counts.float()
        per_creator = torch.zeros(n_creators, device=counts.device).index_add_(0, creator, counts)
        n_items = torch.zeros(n_creators, device=counts.device).index_add_(0, creator, torch.ones_like(counts))
        advantage = counts - (per_creator / n_items.clamp(min=1))[creator]
        # creators' home stances stay float32; the catalog's stances are in the run's precision
        direction = advantage[:, None] * (catalog.stance[items].to(self.creator_stance) - self.creator_stance[creator])
        step = torch.zeros_like(self.creator_stance).index_add_(0, creator, direction)
        norm = torch.zeros(n_creators, device=counts.device).index_add_(0, creator, advantage.abs())
        update = step / norm.clamp(min=1e-12)[:, None]
        self.creator_stance = (self.creator_stance + self.settings.creator_drift * update).clamp(-1, 1)

    def state_dict(self) -> dict[str, Tensor]:
        assert self.creator_stance is not None and self.creator_topic is not None
        state = {"creator_stance": self.creator_stance, "creator_topic": self.creator_topic}
        if self.creator_attributes is not None:
            state["creator_attributes"] = self.creator_attributes
        return state

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.creator_stance = state["creator_stance"].clone()
        self.creator_topic = state["creator_topic"].clone()
        if "creator_attributes" in state:
            self.creator_attributes = state["creator_attributes"].clone()


# e_j is clamped to [EDGE, 1 - EDGE] before Phi^-1: the items clipped at the stance bound
# (e_j = 1, a few percent of them) would otherwise have an infinite latent score; q_j ~ U[0, 1)
# only needs a guard against the rare exact 0, which keeps z_q standard normal
EDGE = 0.01
QUALITY_EDGE = 1e-7


def reliability_of(quality: Tensor, extremeness: Tensor, noise: Tensor, appeal: float, extreme: float) -> Tensor:
    """Item reliability by a Gaussian copula over appeal and extremeness.

    r_j = Phi(rho_q z_q + rho_e z_e + sqrt(1 - rho_q^2 - rho_e^2) eps_j), with z_q = Phi^-1(q_j)
    (q_j ~ U[0, 1], the appeal every user rewards alike), z_e = Phi^-1(e_j) (e_j = max_k |y_jk|,
    which draws users with an extremity appetite, clamped to [EDGE, 1 - EDGE]), and
    eps_j ~ N(0, 1). When e_j is uniform (one opinion axis, little clipping) z_q and z_e are
    standard normal and independent, so the latent score is standard normal, r_j is uniform on
    (0, 1) and rho_q, rho_e are its correlations with z_q and z_e; otherwise rho_q and rho_e are
    its regression slopes on them. Negative values make clickbait (high q_j) and extreme items
    less reliable (the lecture after Spinelli & Crovella, UMAP 2020 adjunct: "one of the easiest
    ways [to attract engagement] is to present false claims").

    Args:
        quality: (n,) q_j in [0, 1].
        extremeness: (n,) e_j in [0, 1].
        noise: (n,) eps_j ~ N(0, 1).
        appeal: rho_q.
        extreme: rho_e; rho_q^2 + rho_e^2 <= 1.

    Returns:
        (n,) r_j in (0, 1).
    """
    z_quality = torch.special.ndtri(quality.clamp(QUALITY_EDGE, 1 - QUALITY_EDGE))
    z_extreme = torch.special.ndtri(extremeness.clamp(EDGE, 1 - EDGE))
    rest = math.sqrt(max(0.0, 1 - appeal**2 - extreme**2))
    return torch.special.ndtr(appeal * z_quality + extreme * z_extreme + rest * noise)
