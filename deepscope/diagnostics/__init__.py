"""What happened to the network? Step-resolution diagnostics and plain-language diagnoses.

``DNN.fit`` records them by default (``fit(diagnostics=False)`` turns them off)::

    model.fit(X, Y, n_epoch=5)
    print(model.diagnosis)            # findings in plain words: step, layer, numbers, fixes
    model.diagnosis.final             # final metrics, predicted classes, dead fraction per layer
    read_steps(model.last_run.path)   # the step table (also steps.csv and TensorBoard)
"""
from .findings import DIAGNOSIS_FILE, STEPS_FILE, Diagnosis, Finding, read_diagnosis
from .recorder import Diagnostics, FitDiagnostics, StepRecorder, probe_indices, read_steps, settings_from

__all__ = ["Diagnosis", "Finding", "Diagnostics", "FitDiagnostics", "StepRecorder", "read_diagnosis", "read_steps",
           "DIAGNOSIS_FILE", "STEPS_FILE"]
