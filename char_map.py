"""The 28-character alphabet of the acoustic models and the CTC blank.

Index 0 is the apostrophe, 1 the space, 2..27 the letters a..z.  Index 28 is the
CTC blank, so every acoustic model outputs 29 probabilities per time step.
"""

if __name__ == "__main__":  # before the imports: one line, no TensorFlow start-up log
    from plumbing import refuse_to_run_as_command

    refuse_to_run_as_command("char_map")

ALPHABET = "' abcdefghijklmnopqrstuvwxyz"
char_map = {char: index for index, char in enumerate(ALPHABET)}
index_map = {index: char for index, char in enumerate(ALPHABET)}
BLANK_INDEX = len(ALPHABET)  # 28
NUM_CLASSES = len(ALPHABET) + 1  # 29: the characters plus the blank
