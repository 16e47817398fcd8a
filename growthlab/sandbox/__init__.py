"""The simulated clean-tech market and the stand-in HubSpot, SendGrid and LinkedIn.

* `generate`: a world from (seed, size): owners, companies, contacts and a year of history,
  written with COPY into the sandbox database;
* `behaviour` and `simulation`: the ground truth and the engine shared by history and `advance`;
* `truth`: each open contact's true 90-day propensity and outcome;
* `hubspot`, `sendgrid`, `linkedin`: the stand-in servers the real clients talk to;
* `cli`: `growthlab sandbox up|down|status|advance|truth|faults`.

The pipeline never imports this package; tests, benchmarks and evaluation do.
"""
