"""Concentration per stage of the chain, from country shares."""

from __future__ import annotations

import pandas as pd

__all__ = ["country_share_by_stage"]


def country_share_by_stage(
    stage_shares: pd.DataFrame, country: str = "CHN", *, include_projections: bool = False
) -> pd.DataFrame:
    """One country's share of world output at each stage [%], with its source.

    Parameters
    ----------
    stage_shares
        The ``stage_shares`` table of the fact base (columns commodity, stage, country,
        year, value [%], basis, projection, source_id).
    country
        ISO 3166-1 alpha-3 code; China (``"CHN"``) by default.
    include_projections
        Keep projected years as well as observed ones.

    Returns
    -------
    pandas.DataFrame
        One row per (commodity, stage, year, basis, source_id) where ``country`` is listed,
        with its share in ``value`` [%]. Estimates that disagree stay as separate rows.
    """
    df = stage_shares[stage_shares["country"] == country]
    if not include_projections:
        df = df[~df["projection"].astype(bool)]
    cols = ["commodity", "stage", "year", "basis", "value", "projection", "source_id",
            "confidence"]
    return df[cols].sort_values(["commodity", "stage", "year", "source_id"]).reset_index(
        drop=True
    )
