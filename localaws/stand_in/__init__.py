"""Local AWS for lifeguard's tests: moto 5.2.5 plus what our tests need of AWS.

    PYTHONPATH=localaws .venv/bin/python -m stand_in --port 4599   (localaws/localaws.sh start)

Everything added to moto is faithful to AWS's documented behaviour; each module's docstring
says what it adds and why:
  app.py             the WSGI middleware: one global lock around moto (not thread-safe),
                     dispatch to the control API, counting, IAM enforcement, faults, moto
  state.py           our state (scripts, faults, read-back records, principals) and the lock
  control.py         the control API under /_lifeguard/, a route table of small handlers
  calls.py           what a request calls (X-Amz-Target, query Action, rpcv2Cbor operation)
                     and who signed it (SigV4 credential scope)
  faults.py          fault injection for any service, request counts
  codedeploy.py      AWS-shaped deployment ids, AppSpec revisions, lifecycle hook executions,
                     PutLifecycleEventHookExecutionStatus, GetApplicationRevision,
                     StopDeployment, the deployment group's alarm configuration
  awslambda.py       Invoke: 404s, X-Amz-Executed-Version, scripted answers per version
  cloudwatch.py      Smithy rpcv2Cbor translated to moto's query protocol; GetMetricData with
                     AWS's metric identity, StartTime rounding and pages
  cloudformation.py  termination protection, stack states, exports in use, ListImports,
                     DescribeStacks pages, scripted DELETE_FAILED / status / nesting
  iam/               IAM enforcement for principals bound to policy documents: policy
                     evaluation (policy.py), a role's policies from a SAM template (roles.py),
                     each request's checks (authorization.py), enforcement.py
  __main__.py        `python -m stand_in`

Control endpoints live under /_lifeguard/ (control.ROUTES); POST /moto-api/reset clears their
state too. Importing this package patches nothing: importing stand_in.app applies the patches.
"""
