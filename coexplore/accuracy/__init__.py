"""Accuracy proxy: data sets, proxy models, pretrain cache, brief fine-tunes."""
