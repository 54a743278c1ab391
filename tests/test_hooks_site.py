"""Site: validation, names, parsing; layer lists."""

from __future__ import annotations

import pytest

from interp._util.errors import UserError
from interp.hooks import Site, check_sites, parse_layers


def test_site_names_round_trip():
    for site in (Site(0), Site(3, "resid_pre", "all"), Site(12, "resid_post", -2), Site(1, position=4)):
        assert Site.parse(site.name) == site
    assert Site(12).name == "L12.resid_post.readout"


def test_sites_order_by_execution():
    sites = [Site(2, "resid_post"), Site(2, "resid_pre"), Site(0, "resid_post")]
    assert [s.name for s in sorted(sites, key=lambda s: s.order)] == [
        "L0.resid_post.readout",
        "L2.resid_pre.readout",
        "L2.resid_post.readout",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Site(-1),
        lambda: Site(1, "resid_mid"),
        lambda: Site(1, position="last"),  # type: ignore[arg-type]
        lambda: Site.parse("layer3"),
        lambda: Site.parse("L3.resid_post.x"),
    ],
)
def test_bad_sites_are_one_sentence_user_errors(bad):
    with pytest.raises(UserError) as err:
        bad()
    assert "\n" not in str(err.value) and str(err.value).endswith(".")


def test_layer_lists_are_checked_against_the_model():
    assert parse_layers("0,2-3", 4) == [0, 2, 3]
    assert parse_layers("all", 3) == [0, 1, 2]
    with pytest.raises(UserError, match="0 to 3"):
        parse_layers("2,9", 4)
    with pytest.raises(UserError, match="like 0,5,10"):
        parse_layers("a-b", 4)
    assert check_sites([Site(1), Site(1)], 4) == [Site(1)]
