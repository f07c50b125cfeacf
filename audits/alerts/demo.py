"""Demo alerts, called LAST by `manage.py seed_demo` with the registry's `Demo`: the office
opens the demo to the alerts the rules find in what the other demos planted.

Event-driven alerts were raised as the drug chain was written (the two refused shipments,
the receipt shortage, the reconciliation's quantity mismatch); this runs the time-based
rules as of the demo's day: the spike at 集兵镇中心卫生院, the late sales summary of 湖南仁和医药
物流, the closings signed late or missing, the Mindray filed 23 days late, the lapsed
termination approval of 衡阳县中医医院 and the lapsed 母婴保健 certificate of 集兵镇's operator.
It also sweeps the event sources, so a demo seeded before the alerts existed catches up.
Nothing is planted here, and nothing is faked: the rules decide. Idempotent (the rules are).
"""

from __future__ import annotations

from audits.alerts import rules


def seed_alerts(demo) -> dict[str, int]:
    result = rules.run(today=demo.today)
    return {name: counts["new"] for name, counts in result.items() if counts["new"]}
