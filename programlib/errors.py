class SubmissionError(Exception):
    """Something wrong with what the participant submitted.

    Its message is shown to the participant as is, so it names the file, the row and the field.
    The scoring program exits non-zero and writes no scores.json. Bugs in our own programs are
    plain exceptions or asserts instead, so they are never mistaken for a participant's fault.
    """
