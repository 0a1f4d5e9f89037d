"""`python -m recall_models COMMAND`: see `python -m recall_models --help`."""
from w2v_tf.cli import main_entry

COMMANDS = {
    "fetch": "recall_models.fetch_cli",
    "data": "recall_models.data_cli",
    "evaluate": "recall_models.evaluate_cli",
    "train": "recall_models.train_cli",
    "export": "recall_models.export_cli",
    "recommend": "recall_models.recommend_cli",
}

DESCRIPTION = """Recall models (YouTubeDNN, MIND, ComiRec-SA) on MovieLens, trained with w2v_tf's sampled softmax.

Examples:
  python -m recall_models fetch                       # MovieLens-100K from the recbole wheel, once
  python -m recall_models data ml-100k                # summary of the dataset
  python -m recall_models evaluate --model mostpop    # a baseline through the retrieval harness
  python -m recall_models train --model youtubednn --sampler log_uniform --out runs/ytdnn
  python -m recall_models export runs/ytdnn --out runs/ytdnn/export   # a SavedModel
  python -m recall_models recommend runs/ytdnn --user 42 -k 10        # top-10 with titles
"""

if __name__ == "__main__":
    main_entry("python -m recall_models", DESCRIPTION, COMMANDS)
