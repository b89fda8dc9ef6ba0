@echo off
rem kubectl_complete-arc: lets kubectl (1.26 or newer) complete `kubectl arc ...`.
rem Save as kubectl_complete-arc.cmd in a directory on PATH, next to kubectl-arc.exe.
kubectl-arc.exe __complete -- %*
