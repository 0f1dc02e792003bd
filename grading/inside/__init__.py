"""What runs inside the sandbox, and never imports the grading package.

Each file here is started by path in a sandbox (grading.sandboxing.sandbox) where the grading
package is not visible, and uses the standard library (and NumPy) only; each sandbox is shown only
the files it runs:

- kernel_zygote.py: forks a submission's kernels (grading.sandboxing.kernels starts it);
- worker.py: the verification worker, a broker and the runner of the student's code
  (grading.sandboxing.remote talks to it); substitutes.py: the stand-in helpers it calls them with
  (the checks import them too);
- sandbox_entry.py: the first step into every sandbox, before bwrap (grading.sandboxing.sandbox.wrap);
- parent_death.py: the one "die with the parent" call, which the scripts above import from beside
  them, and the grader's own processes (runners, the kernel launcher) import as a module;
- kernel_grading/: what `import grading` finds in a kernel under `make autograde`: the verified
  verdicts, not the hidden tests.

The grader imports these modules too, for the client halves of their protocols.
"""
