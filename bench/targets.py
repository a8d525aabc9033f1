"""Each result as a ratio to its ceiling, and the targets of issue 9 (distributed, through NGINX),
each with what was measured and whether it held (None: not measured in this run)."""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from typing import Any

RSS_LIMIT_MB = 200
SERVICES = ("auth", "movie", "booking", "payment", "notification")


def ratio(value: float | None, ceiling: float | None) -> float | None:
    if value is None or not ceiling:
        return None
    return round(value / ceiling, 4)


def ceiling_value(ceilings: dict[str, Any], name: str, field: str) -> float | None:
    value = (ceilings.get(name) or {}).get(field)
    return float(value) if isinstance(value, int | float) else None


def target(
    name: str,
    measured: float | None,
    op: str,
    threshold: float,
    note: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    compare: Callable[[float, float], bool] = {
        "<": operator.lt,
        "<=": operator.le,
        ">=": operator.ge,
        "==": operator.eq,
    }[op]
    return {
        "target": name,
        "measured": measured,
        "must_be": f"{op} {threshold}",
        "held": None if measured is None else bool(compare(measured, threshold)),
        **({"note": note} if note else {}),
        **more,
    }


# The least a sale can be under SPEC 4.6, in the servers' own work: three transactions the size
# of the booking transaction (the booking, the payment, the confirmation: each a row or two and
# its outbox row) and three events through quorum queues (booking.created, payment.completed,
# booking.confirmed), each consumed once. No HTTP, no service code, no e-mail, no Redis.
FLOOR_TRANSACTIONS = 3
FLOOR_EVENTS = 3
TPCB_SHARE = 0.2


def sale_budget(
    ceilings: dict[str, Any], run: dict[str, Any] | None, cores: int
) -> dict[str, Any] | None:
    """What one sale may cost, in CPU of the whole machine, for the flash sale to reach
    TPCB_SHARE of TPC-B's transactions per second; what it cost in the run; and the servers'
    own CPU for the least a sale can be (the floor). Allowed minus floor is what is left for
    everything else a sale does: the requests through NGINX, the services' code, the e-mail."""
    tpcb = ceiling_value(ceilings, "pgbench_tpcb", "tps")
    if not tpcb:
        return None
    allowed = cores * 1000 / (TPCB_SHARE * tpcb)
    out: dict[str, Any] = {"cores": cores, "allowed_ms_per_sale": round(allowed, 2)}
    cpu = (run or {}).get("service_cpu") or {}
    services = (cpu.get("ms_per_booking") or {}).get("total")
    servers = (cpu.get("servers_ms_per_booking") or {}).get("total")
    if services is not None and servers is not None:
        out["measured_ms_per_sale"] = {
            "services": services,
            "servers": servers,
            "total": round(services + servers, 2),
        }
    per_tx = ceiling_value(ceilings, "pgbench_booking_tx", "server_cpu_ms_per_tx")
    per_message = ceiling_value(ceilings, "rabbitmq_quorum", "server_cpu_ms_per_message")
    if per_tx is not None and per_message is not None:
        floor = {
            "postgresql": round(FLOOR_TRANSACTIONS * per_tx, 2),
            "rabbitmq": round(FLOOR_EVENTS * per_message, 2),
        }
        floor["total"] = round(floor["postgresql"] + floor["rabbitmq"], 2)
        out["floor_ms_per_sale"] = floor
        out["floor_is"] = (
            f"the servers' own CPU for the least a sale can be under SPEC 4.6: "
            f"{FLOOR_TRANSACTIONS} transactions the size of the booking transaction "
            f"(pgbench_booking_tx) and {FLOOR_EVENTS} events through quorum queues, each "
            f"consumed once (rabbitmq_quorum); no HTTP, no service code, no e-mail"
        )
        out["left_for_the_rest_ms"] = round(allowed - floor["total"], 2)
    return out


def _run_at(runs: list[dict[str, Any]], clients: int) -> dict[str, Any] | None:
    return next((r for r in runs if r["clients"] == clients), None)


def flash_sale(
    result: dict[str, Any], ceilings: dict[str, Any], cores: int | None = None
) -> tuple[dict, list]:
    tpcb = ceiling_value(ceilings, "pgbench_tpcb", "tps")
    booking_tx = ceiling_value(ceilings, "pgbench_booking_tx", "tps")
    redis_set = ceiling_value(ceilings, "redis_benchmark", "set_per_s")
    ratios = {}
    for run in result["runs"]:
        # Holds of chosen seats and of the best seats (hold-best) alike.
        holds = [run["steps"][s]["ok_per_s"] for s in ("hold", "hold_best") if s in run["steps"]]
        hold = sum(holds) if holds else None
        ratios[f"{run['clients']} clients"] = {
            "bookings_per_s_vs_pgbench_tpcb": ratio(run["bookings_per_s"], tpcb),
            "bookings_per_s_vs_booking_tx": ratio(run["bookings_per_s"], booking_tx),
            "holds_per_s_vs_redis_set": ratio(hold, redis_set),
        }
    runs = result["runs"]
    at64, at16 = _run_at(runs, 64), _run_at(runs, 16)
    p99_16 = at16["steps"].get("book", {}).get("latency_ms", {}).get("p99") if at16 else None
    targets = [
        target(
            "flash-sale bookings/s at 64 clients / pgbench TPC-B TPS",
            ratio(at64["bookings_per_s"], tpcb) if at64 else None,
            ">=",
            TPCB_SHARE,
            None if at64 else "no 64-client run",
            budget=sale_budget(ceilings, at64, cores or len(os.sched_getaffinity(0))),
        ),
        target("flash-sale 5xx answers", sum(r["status_5xx"] for r in runs), "==", 0),
        target(
            "flash-sale seats sold twice",
            _sum_or_none(r["invariant"].get("seats_sold_twice") for r in runs),
            "==",
            0,
        ),
        target(
            "flash-sale seats unsold after the sell-out",
            _sum_or_none(_unsold(r) for r in runs),
            "==",
            0,
        ),
        target(
            "flash-sale book p99 at 16 clients (ms)",
            p99_16,
            "<",
            100,
            None if at16 else "no 16-client run",
        ),
    ]
    return ratios, targets


def _unsold(run: dict[str, Any]) -> int | None:
    inv = run["invariant"]
    return None if not inv.get("checked") else inv["capacity"] - inv["seats_sold"]


def _sum_or_none(values: Any) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def disjoint(result: dict[str, Any], ceilings: dict[str, Any]) -> tuple[dict, list]:
    booking_tx = ceiling_value(ceilings, "pgbench_booking_tx", "tps")
    ratios = {
        f"{r['clients']} clients": {
            "bookings_per_s_vs_booking_tx": ratio(r["bookings_per_s"], booking_tx)
        }
        for r in result["runs"]
    }
    runs = result["runs"]
    targets = [
        target("disjoint success rate", min(r["success_rate"] for r in runs), "==", 1.0),
        target("disjoint 5xx answers", sum(r["status_5xx"] for r in runs), "==", 0),
        target(
            "disjoint seats sold twice",
            _sum_or_none(r["invariant"].get("seats_sold_twice") for r in runs),
            "==",
            0,
        ),
    ]
    return ratios, targets


def browse(result: dict[str, Any], ceilings: dict[str, Any]) -> tuple[dict, list]:
    ping = ceiling_value(ceilings, "ping", "req_per_s")
    ratios: dict[str, Any] = {"mixed": {}, "focused": {}}
    for run in result["mixed"]:
        ratios["mixed"][f"{run['clients']} clients"] = {
            name: ratio(stats["ok_per_s"], ping) for name, stats in run["endpoints"].items()
        }
    for run in result["focused"]:
        stats = run["endpoints"][run["endpoint"]]
        ratios["focused"][run["endpoint"]] = ratio(stats["ok_per_s"], ping)
    targets = []
    for seats, share in ((200, 0.4), (2000, 0.1)):
        run = next((r for r in result["focused"] if r["hall_seats"] == seats), None)
        note = None
        if run is None:
            note = f"no {seats}-seat hall in this run"
        elif run["clients"] != 64:
            note = f"measured at {run['clients']} clients, not 64"
        measured = ratios["focused"].get(f"seat_map_{seats}") if run else None
        targets.append(
            target(
                f"browse {seats}-seat map req/s at 64 clients / ping through NGINX",
                measured if not note else None,
                ">=",
                share,
                note or (None if ping else "no ping ceiling"),
            )
        )
    every = [*result["mixed"], *result["focused"]]
    targets.append(target("browse 5xx answers", sum(r["status_5xx"] for r in every), "==", 0))
    return ratios, targets


def funnel(result: dict[str, Any], ceilings: dict[str, Any]) -> tuple[dict, list]:
    runs = result["runs"]

    def worst(field: str) -> float | None:
        values = [r[field]["p99"] for r in runs if r[field]["p99"] is not None]
        return max(values) if values else None

    targets = [
        target("funnel payment → confirmed p99 (ms)", worst("payment_to_confirmed_ms"), "<", 500),
        target(
            "funnel payment → notification p99 (ms)", worst("payment_to_notification_ms"), "<", 1000
        ),
        target("funnel bookings never confirmed", sum(r["never_confirmed"] for r in runs), "==", 0),
        target("funnel 5xx answers", sum(r["status_5xx"] for r in runs), "==", 0),
    ]
    return {}, targets


def live(result: dict[str, Any], ceilings: dict[str, Any]) -> tuple[dict, list]:
    wanted = result["listeners"]
    targets = [
        target(f"live: listeners connected of {wanted}", result["connected"], "==", wanted),
        target("live: changes that never reached a listener", result["missed_deliveries"], "==", 0),
        target(
            "live: slowest change to reach a listener (ms)", result["delivery_ms"]["max"], "<", 1000
        ),
        target("live 5xx answers", result["status_5xx"], "==", 0),
    ]
    return {}, targets


def rss(service_rss: dict[str, Any]) -> list[dict[str, Any]]:
    if "skipped" in service_rss:
        return [
            target(
                f"peak RSS of every service process < {RSS_LIMIT_MB} MB",
                None,
                "<",
                RSS_LIMIT_MB,
                service_rss["skipped"],
            )
        ]
    peaks = [service_rss[s]["peak_rss_mb"] for s in SERVICES if s in service_rss]
    if not peaks:  # embedded: one process holds every service
        peaks = [p["peak_rss_mb"] for p in service_rss.values() if p["peak_rss_mb"]]
    worst = max((p for p in peaks if p is not None), default=None)
    return [target("peak RSS of the largest service process (MB)", worst, "<", RSS_LIMIT_MB)]


BY_SCENARIO = {
    "flash-sale": flash_sale,
    "disjoint": disjoint,
    "browse": browse,
    "funnel": funnel,
    "live": live,
}
