"""E2E tests of a Kyma module on a throwaway cluster: the scenarios, their report and diagnostics.

See :mod:`btp_release.e2e.btp_operator` and :mod:`btp_release.e2e.generic` (what is checked),
:mod:`btp_release.e2e.scenarios` (settings, credentials, time budgets), :mod:`btp_release.e2e.report`
(JUnit XML) and :mod:`btp_release.e2e.diagnostics` (the bundle saved when a run fails).
"""

from btp_release.e2e.btp_operator import (
    main_scenario,
    recovery_scenario,
    upgrade_scenario,
    upgrade_while_deleting_scenario,
    wrong_cr_scenario,
)
from btp_release.e2e.diagnostics import Diagnostics, collect_diagnostics
from btp_release.e2e.report import Step, Steps
from btp_release.e2e.scenarios import DUMMY_CREDENTIALS, E2ESettings, ServiceCredentials

__all__ = [
    "DUMMY_CREDENTIALS",
    "Diagnostics",
    "E2ESettings",
    "ServiceCredentials",
    "Step",
    "Steps",
    "collect_diagnostics",
    "main_scenario",
    "recovery_scenario",
    "upgrade_scenario",
    "upgrade_while_deleting_scenario",
    "wrong_cr_scenario",
]
