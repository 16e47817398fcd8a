"""`growthlab sandbox up|down|status|advance|truth|faults`."""

from __future__ import annotations

import argparse
import functools
import json

from growthlab.config import get_settings


def _user_errors(fn):
    """Bad input (a size, a fault spec, a day count) is the user's to fix: report it without a traceback."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        from growthlab.sandbox.store import SandboxError

        try:
            return fn(args)
        except ValueError as exc:
            raise SandboxError(str(exc)) from exc

    return wrapper


@_user_errors
def _up(args: argparse.Namespace) -> int:
    from growthlab.sandbox.control import up

    result = up(get_settings(), seed=args.seed, size=args.size, faults=args.faults, fresh=args.fresh)
    print(json.dumps(result, indent=2))
    return 0


@_user_errors
def _down(args: argparse.Namespace) -> int:
    from growthlab.sandbox.control import down

    print("sandbox servers stopped" if down(get_settings()) else "sandbox servers were not running")
    return 0


@_user_errors
def _status(args: argparse.Namespace) -> int:
    from growthlab.sandbox.control import status

    result = status(get_settings())
    print(json.dumps(result, indent=2, default=str))
    return 0 if result.get("running") else 3


@_user_errors
def _advance(args: argparse.Namespace) -> int:
    from growthlab.sandbox.control import advance_world

    print(json.dumps(advance_world(get_settings(), args.days), indent=2, default=str))
    return 0


@_user_errors
def _truth(args: argparse.Namespace) -> int:
    from growthlab.sandbox import store
    from growthlab.sandbox.truth import write_truth

    summary = write_truth(store.sandbox_url(get_settings()), args.out)
    print(
        f"wrote {summary.contacts:,} contacts to {args.out}: {summary.converted:,} convert within 90 days "
        f"(mean propensity {summary.mean_propensity:.3f}, oracle AUC {summary.oracle_auc}, "
        f"oracle expected AUC {summary.oracle_expected_auc:.4f})"
    )
    return 0


@_user_errors
def _faults(args: argparse.Namespace) -> int:
    from growthlab.sandbox.control import apply_faults

    print(json.dumps(apply_faults(get_settings(), args.spec), indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sandbox",
        help="the simulated clean-tech market and its stand-in HubSpot, SendGrid and LinkedIn",
        description="The simulated market and stand-in servers (they keep their state in the warehouse "
        "server's `sandbox` database: run `growthlab warehouse up` first).",
    )
    sub = p.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="generate the world if needed and start the servers in the background")
    up.add_argument("--seed", type=int, default=None, help="world seed (default GROWTHLAB_SANDBOX_SEED, 42)")
    up.add_argument(
        "--size",
        default=None,
        help="tiny, small, medium or a number of contacts (default GROWTHLAB_SANDBOX_SIZE)",
    )
    up.add_argument(
        "--faults",
        default=None,
        help="fault injection, e.g. 'burst_429=5,error_5xx=0.1,slow=0.05,slow_seconds=2,drop=0.02,malformed=1' "
        "(HubSpot; prefix sendgrid. for SendGrid); 'off' clears",
    )
    up.add_argument(
        "--fresh", action="store_true", help="regenerate the world even if it exists (resets the clock)"
    )
    up.set_defaults(func=_up)
    sub.add_parser("down", help="stop the servers").set_defaults(func=_down)
    sub.add_parser("status", help="servers, clock, world and queues as JSON").set_defaults(func=_status)
    adv = sub.add_parser(
        "advance", help="move the simulated clock; the world reacts to what the pipeline did"
    )
    adv.add_argument("--days", type=int, default=1, help="simulated days (default 1)")
    adv.set_defaults(func=_advance)
    truth = sub.add_parser("truth", help="write the ground truth: contact_id, email, propensity, converted")
    truth.add_argument("--out", required=True, help="CSV file to write")
    truth.set_defaults(func=_truth)
    faults = sub.add_parser("faults", help="set fault injection on the running servers (see `up --faults`)")
    faults.add_argument("spec", help="e.g. burst_429=3 or error_5xx=0.2,sendgrid.drop=0.1, or off")
    faults.set_defaults(func=_faults)
