"""The analytical PPA model: dataflows, vectorized evaluator, results."""
