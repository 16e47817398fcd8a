"""Lead scoring: features, training, registry, scoring, explanations, drift."""
