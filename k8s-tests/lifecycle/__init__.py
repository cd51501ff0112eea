"""Named checks of what Kubernetes and Helm will do with the rendered chart, one module per concern.

- inventory: what exists before the chart is installed (objects the values declare user-provided)
  and what the subcharts and operators create from ours.
- phases: Helm's install, upgrade and test phases, and whether every reference a pod makes
  resolves at its moment; what `--wait` waits for.
- upgrades: immutable fields, generated secrets kept with `lookup`, which pods a change rolls.
- names: object name and label value limits, including the names operators derive from ours.
- network: which connections the NetworkPolicies admit.
- alerts: which alerts fire in a given state of one or more releases (real promtool).
- cluster: a stand-in Kubernetes API that answers Helm's `lookup` with a previous revision's Secrets.

The facts these models use, with their sources, are in the module docstrings; the tests are the
k8s-tests/test_lifecycle_*.py files, one per lifecycle phase.
"""
