"""What nbgrader and Jupyter load by name from their configuration (nbgrader_config.py,
jupyter-config/grading.json): the late-penalty plugin, grades.csv's export, the feedback pages'
templates and filters, the formgrader's guard.
"""
