"""An nbconvert preprocessor: the names nbgrader hands its grading page arrive escaped.

The formgrader renders a submission with nbconvert, whose templates do not escape, and its
heading shows `resources.last_name, resources.first_name` as they are in the gradebook, where
the roster put them: a name with markup ran as script in the instructor's session.
nbgrader_config.py adds this preprocessor to every HTMLExporter; it HTML-escapes those values
before the template sees them (the feedback's resources hold none of them).
"""
import html

from nbconvert.preprocessors import Preprocessor
from traitlets import List, Unicode


class EscapeNames(Preprocessor):
    """HTML-escape the string values of `keys` in the resources of a page being rendered."""

    keys = List(Unicode(), default_value=["student", "first_name", "last_name"],
                help="Keys of the resources that hold names or ids to show as text.").tag(config=True)

    def preprocess(self, nb, resources):
        for key in self.keys:
            if isinstance(resources.get(key), str):
                resources[key] = html.escape(resources[key])
        return nb, resources
