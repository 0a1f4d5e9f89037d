"""`python -m w2v_tf COMMAND`: see `python -m w2v_tf --help`."""
from w2v_tf.cli import main_entry

# name -> module defining HELP, add_arguments(parser) and main(args).
COMMANDS = {
    "demo": "w2v_tf.demo_cli",
    "parity": "w2v_tf.study.parity_cli",
    "table": "w2v_tf.study.table_cli",
    "train": "w2v_tf.word2vec.train_cli",
    "evaluate": "w2v_tf.word2vec.evaluate_cli",
    "neighbours": "w2v_tf.word2vec.neighbours_cli",
}

DESCRIPTION = """Sampled softmax, NCE and negative sampling in TensorFlow, checked against TensorFlow.

Examples:
  python -m w2v_tf parity            # our losses vs tf.nn, max |difference| per configuration
  python -m w2v_tf table             # what each candidate-sampling loss learns
  python -m w2v_tf train --out runs/w2v --loss neg
"""

if __name__ == "__main__":
    main_entry("python -m w2v_tf", DESCRIPTION, COMMANDS)
