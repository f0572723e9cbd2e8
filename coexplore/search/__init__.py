"""Search: config schemas, space to Optuna, objectives and constraints, driver, Pareto."""
