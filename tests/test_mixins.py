"""configs/mixins.py: one row per service, so what a service brings beyond its container (its
rule files and dashboards) is found, and switched off with it, in one place."""

from __future__ import annotations

from configs.mixins import MIXINS
from services import Service


def test_the_table_lists_every_service_exactly_once() -> None:
    # A Service added to services.py without its row, or a row written twice, fails here.
    listed = [mixin.service for mixin in MIXINS if mixin.service is not None]
    assert sorted(listed) == sorted(Service)


def test_no_rule_file_or_dashboard_belongs_to_two_rows() -> None:
    files = [file.name for mixin in MIXINS for file in mixin.rules]
    builders = [builder.build for mixin in MIXINS for builder in mixin.dashboards]
    assert len(files) == len(set(files))
    assert len(builders) == len(set(builders))
