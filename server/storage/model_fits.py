"""The model_fits collection: each workspace's fitted models, newest first."""

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from server.domain.customer_value import LtvModels
from server.domain.ltv import BgNbdFit, Check, FitCheck, GammaGammaFit
from server.domain.propensity import PropensityModel
from server.storage.client import Database, Document

LTV = "ltv"
PROPENSITY = "propensity"


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, which BSON can store."""
    return value.item() if hasattr(value, "item") else value


def _params(fit: BgNbdFit | GammaGammaFit | None) -> Document | None:
    if fit is None:
        return None
    return {f.name: _plain(getattr(fit, f.name)) for f in fields(fit) if f.name != "checks"}


def _checks_doc(checks: tuple[FitCheck, ...]) -> list[Document]:
    return [{**asdict(c), "check": c.check.value} for c in checks]


def _checks(docs: list[Document] | None) -> tuple[FitCheck, ...]:
    # Fits stored before the checks existed carry none.
    return tuple(FitCheck(Check(d["check"]), d["passed"], d["detail"]) for d in docs or ())


def _ltv_models(doc: Document) -> LtvModels:
    bg_checks, gg_checks = _checks(doc.get("bgnbd_checks")), _checks(doc.get("gamma_gamma_checks"))
    bg, gg = doc.get("bgnbd"), doc.get("gamma_gamma")
    return LtvModels(
        as_of=doc["as_of"],
        customers=doc["customers"],
        bgnbd=BgNbdFit(**bg, checks=bg_checks) if bg else None,
        gamma_gamma=GammaGammaFit(**gg, checks=gg_checks) if gg else None,
        bgnbd_error=doc.get("bgnbd_error"),
        gamma_gamma_error=doc.get("gamma_gamma_error"),
        bgnbd_checks=bg_checks,
        gamma_gamma_checks=gg_checks,
    )


class ModelFits:
    def __init__(self, db: Database) -> None:
        self._collection = db["model_fits"]

    async def _save(self, workspace_id: str, kind: str, as_of: datetime, fit: Document) -> None:
        await self._collection.insert_one({"workspace_id": workspace_id, "kind": kind, "as_of": as_of, **fit})

    async def save_propensity(self, workspace_id: str, as_of: datetime, model: PropensityModel) -> None:
        await self._save(workspace_id, PROPENSITY, as_of, {"model": asdict(model)})

    async def latest_propensity(self, workspace_id: str) -> PropensityModel | None:
        doc = await self._collection.find_one(
            {"workspace_id": workspace_id, "kind": PROPENSITY}, {"_id": 0}, sort=[("as_of", -1), ("_id", -1)]
        )
        if doc is None:
            return None
        saved = doc["model"]
        return PropensityModel(
            **{**saved, "names": tuple(saved["names"]), "coefficients": tuple(saved["coefficients"])}
        )

    async def save_ltv(self, workspace_id: str, models: LtvModels, duration_ms: float) -> None:
        await self._save(
            workspace_id,
            LTV,
            models.as_of,
            {
                "bgnbd": _params(models.bgnbd),
                "gamma_gamma": _params(models.gamma_gamma),
                "bgnbd_error": models.bgnbd_error,
                "gamma_gamma_error": models.gamma_gamma_error,
                "bgnbd_checks": _checks_doc(models.bgnbd_checks),
                "gamma_gamma_checks": _checks_doc(models.gamma_gamma_checks),
                "customers": models.customers,
                "duration_ms": duration_ms,
            },
        )

    async def ltv_until(self, workspace_id: str, as_of: datetime) -> LtvModels | None:
        """The newest LTV fit on data up to `as_of`: a fit on later data would have seen the future."""
        doc = await self._collection.find_one(
            {"workspace_id": workspace_id, "kind": LTV, "as_of": {"$lte": as_of}},
            {"_id": 0},
            sort=[("as_of", -1), ("_id", -1)],
        )
        return _ltv_models(doc) if doc else None
