"""Recall models on MovieLens built on w2v_tf's sampled losses, and the retrieval harness."""
