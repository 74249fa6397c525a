"""CloudWatch as the post-traffic hook speaks it and reads it: Smithy rpcv2Cbor translated for
moto, and GetMetricData with AWS's metric identity, StartTime rounding and paging.

  * rpcv2Cbor (what aws-sdk-cloudwatch speaks; moto reads only the query protocol): CBOR
    requests are translated to query calls and moto's XML answers back to CBOR, errors
    included (`__type`, `message`, x-amzn-query-error), gzip bodies read;
  * GetMetricData: a metric is its namespace, name and *set* of dimensions (moto wants the
    dimensions in put order and ignores the namespace when they are given), StartTime rounded
    as AWS documents, MaxDatapoints/NextToken pages;
  * metric alarms evaluated (moto changes their state only by SetAlarmState): on every
    DescribeAlarms, DescribeAlarmsForMetric and PutMetricData, each single-metric alarm whose
    metric (namespace, name, *set* of dimensions) has data in the backend is evaluated now
    (`evaluate_alarm`: its last EvaluationPeriods whole periods, M out of N, TreatMissingData)
    and takes the state found, as SetAlarmState would set it. An alarm on a metric nobody
    published keeps whatever SetAlarmState gave it (tests drive such alarms); composite and
    metric-math alarms are never evaluated.

aws-sdk-cloudwatch (and botocore's newest clients) speak Smithy rpcv2Cbor: POST
/service/GraniteServiceVersion20100801/operation/<Op>, CBOR bodies, `smithy-protocol:
rpc-v2-cbor` on both sides. moto only reads CloudWatch's query (form/XML) protocol, so such
a request is decoded, serialized again by botocore's own query serializer from the same
service model, run through moto, and moto's XML is parsed by botocore's query parser and
encoded as CBOR by the output shape (timestamps as tag 1 epoch seconds, doubles as floats).
Errors keep their HTTP status and carry `__type` (the error's shape id) and `message`, plus
the `x-amzn-query-error: Code;Sender|Receiver` header of an awsQueryCompatible service: the
SDKs match modeled errors by that code (e.g. InvalidParameterValue, ResourceNotFound).
"""

import base64
import datetime
import gzip
import hashlib
import io
import json
import math
import operator
import re
import uuid
from typing import NamedTuple
from urllib.parse import urlencode

import cbor2
from botocore.loaders import create_loader
from botocore.model import ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from moto.cloudwatch import exceptions as cw_exceptions
from moto.cloudwatch import models as cw_models
from moto.cloudwatch import responses as cw_responses
from moto.cloudwatch.metric_data_expression_parser import parse_expression as cw_parse_expression
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

CW_SERVICE = "GraniteServiceVersion20100801"
CW_PATH = f"/service/{CW_SERVICE}/operation/"
CW_MODEL = ServiceModel(create_loader().load_service_model("cloudwatch", "service-2"),
                        "cloudwatch")
CW_TO_QUERY = create_serializer("query", include_validation=False)
CW_FROM_XML = create_parser("query")
CW_ERROR_SHAPES = {s.metadata.get("error", {}).get("code", s.name): s.name
                   for s in CW_MODEL.error_shapes}
# what CBOR values may stand for each simple shape type (anything else is a bad request)
CBOR_TYPES = {"string": str, "boolean": bool, "integer": int, "long": int, "blob": bytes,
              "double": (int, float), "float": (int, float),
              "timestamp": (int, float, datetime.datetime)}


class RequestRejected(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code = status, code


def _from_cbor(value, shape):
    """A decoded CBOR input as botocore's serializers take it: nulls and unknown members dropped,
    timestamps as aware datetimes; a value of the wrong type raises TypeError."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _from_cbor(v, shape.members[k]) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list" and isinstance(value, list):
        return [_from_cbor(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_cbor(v, shape.value) for k, v in value.items()}
    if not isinstance(value, CBOR_TYPES.get(kind, ())) or isinstance(value, bool) != (
            kind == "boolean"):
        raise TypeError(f"a CBOR {type(value).__name__} cannot be a {kind} ({shape.name})")
    if kind == "timestamp" and not isinstance(value, datetime.datetime):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    return value


def _to_cbor(value, shape):
    """A value parsed by botocore as rpcv2Cbor encodes it for `shape`."""
    kind = shape.type_name
    if kind == "structure":
        return {k: _to_cbor(v, shape.members[k]) for k, v in value.items()
                if k in shape.members and v is not None}
    if kind == "list":
        return [_to_cbor(v, shape.member) for v in value]
    if kind == "map":
        return {k: _to_cbor(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return cbor2.CBORTag(1, round(value.timestamp(), 3))
    return float(value) if kind in ("double", "float") else value


def cbor_input(environ, body):
    """(operation model, input params) of an rpcv2Cbor CloudWatch request, or RequestRejected."""
    name = environ.get("PATH_INFO", "")[len(CW_PATH):]
    if name not in CW_MODEL.operation_names:
        raise RequestRejected(404, "UnknownOperationException", f"Unknown operation {name}")
    operation = CW_MODEL.operation_model(name)
    try:
        if "gzip" in environ.get("HTTP_CONTENT_ENCODING", ""):  # SDKs compress big PutMetricData
            body = gzip.decompress(body)
        value = cbor2.loads(body) if body else {}
        shape = operation.input_shape
        return operation, (_from_cbor(value, shape) if shape else {})
    except (cbor2.CBORError, ValueError, TypeError, OSError, EOFError) as err:
        raise RequestRejected(400, "SerializationException", f"Cannot read the request: {err}")


def cbor_error(status, code, message, fault=None, request_id=None):
    """An rpcv2Cbor error response of the awsQueryCompatible CloudWatch."""
    shape = CW_ERROR_SHAPES.get(code)
    body = {"__type": f"com.amazonaws.cloudwatch#{shape}" if shape else code, "message": message}
    fault = fault or ("Sender" if status < 500 else "Receiver")
    return status, {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                    "x-amzn-query-error": f"{code};{fault}",
                    "x-amzn-RequestId": request_id or str(uuid.uuid4())}, cbor2.dumps(body)


def cloudwatch_cbor(call_moto, environ, body):
    """One rpcv2Cbor CloudWatch call, run by moto as the equivalent query-protocol call."""
    try:
        operation, params = cbor_input(environ, body)
    except RequestRejected as err:
        return cbor_error(err.status, err.code, str(err))
    request = CW_TO_QUERY.serialize_to_request(params, operation)
    form = urlencode(request["body"]).encode()
    drop = ("HTTP_CONTENT_ENCODING", "HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT",
            "HTTP_X_AMZN_QUERY_MODE", "HTTP_TRANSFER_ENCODING")
    query_environ = {k: v for k, v in environ.items() if k not in drop}
    query_environ.update({
        "PATH_INFO": "/", "RAW_URI": "/", "REQUEST_URI": "/", "QUERY_STRING": "",
        "CONTENT_TYPE": request["headers"]["Content-Type"], "CONTENT_LENGTH": str(len(form)),
        "wsgi.input": io.BytesIO(form)})
    try:
        status_line, headers, chunks = call_moto(query_environ)
    except NotImplementedError as err:  # moto lacks the operation: the same 500, readable
        return cbor_error(500, "InternalFailure", f"The local AWS (moto): {err}")
    status = int(status_line.split()[0])
    parsed = CW_FROM_XML.parse({"status_code": status, "headers": dict(headers),
                                "body": b"".join(chunks)}, operation.output_shape)
    request_id = parsed.pop("ResponseMetadata", {}).get("RequestId") or str(uuid.uuid4())
    if status >= 300:
        error = parsed.get("Error", {})
        return cbor_error(status, error.get("Code") or str(status), error.get("Message") or "",
                          error.get("Type"), request_id)
    headers = {"smithy-protocol": "rpc-v2-cbor", "x-amzn-RequestId": request_id}
    if operation.output_shape is None:  # no output: empty body, no Content-Type
        return 200, headers, b""
    return (200, {**headers, "Content-Type": "application/cbor"},
            cbor2.dumps(_to_cbor(parsed, operation.output_shape)))


def _naive_utc(moment):
    """moto keeps timestamps as naive UTC datetimes."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _rounded_start(start, periods):
    """StartTime rounded down as GetMetricData documents: to the 5/10/20/30 s division for such
    high-resolution periods, else to the minute (< 15 days ago), 5 minutes (< 63) or hour."""
    age = utcnow() - start
    days = datetime.timedelta(days=1)
    step = 60 if age < 15 * days else 300 if age < 63 * days else 3600
    step = min([step] + [p for p in periods if p < 60])
    epoch = datetime.datetime(1970, 1, 1)
    return start - datetime.timedelta(seconds=(start - epoch).total_seconds() % step)


STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_orig_get_metric_data = cw_models.CloudWatchBackend.get_metric_data


def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampDescending"):
    """moto's GetMetricData, with AWS's metric identity for MetricStat queries (namespace, name
    and the *set* of dimensions: moto compares dimension lists in order and, when dimensions
    are given, ignores the namespace) and AWS's StartTime rounding. Math expressions (moto
    knows only `Id` references) and Metrics Insights queries are moto's."""
    stat_queries = [q for q in queries if "MetricStat" in q]
    start_time = _rounded_start(_naive_utc(start_time), [int(q["MetricStat"]["Period"])
                                                         for q in stat_queries])
    end_time = _naive_utc(end_time)
    insights = _orig_get_metric_data(  # also validates StartTime < EndTime
        self, [q for q in queries if q.get("Expression", "").startswith("SELECT")],
        start_time, end_time, scan_by)
    results = [_metric_stat_result(self, q, start_time, end_time, scan_by) for q in stat_queries]
    expressions = [
        {"id": q["Id"], "label": q.get("Label") or q["Id"], "status_code": "Complete",
         **dict(zip(("values", "timestamps"), cw_parse_expression(q["Expression"], results)))}
        for q in queries if "Expression" in q and not q["Expression"].startswith("SELECT")]
    returned = [r for q, r in zip(stat_queries, results) if q.get("ReturnData", True)]
    return returned + expressions + insights


_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?)")


def percentile(values, rank):
    """The `rank` percentile (0 < rank < 100) of raw values by nearest rank: the smallest value
    with at least rank % of the values at or below it. CloudWatch computes percentiles from the
    individual values a metric was published with (not from statistic sets, which give none);
    its estimator is not documented, and nearest rank is exact on the values kept here."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]


def _by_period(data, start, period, count):
    """The data points in each of `count` periods from `start`, by period index: one pass over
    the points (a window of 60 periods over thousands of raw values was 60 passes)."""
    by_period = {}
    for md in data:
        offset = _naive_utc(md.timestamp) - start
        if offset >= datetime.timedelta(0) and offset // period < count:
            by_period.setdefault(offset // period, []).append(md)
    return by_period


def _statistic(stat, in_bucket, bucket):
    """The statistic of a period's data points; None when it has none (a percentile of a period
    published only as statistic sets)."""
    matched = _PERCENTILE.fullmatch(stat)
    if matched:
        values = [md.value for md in in_bucket if isinstance(md, cw_models.MetricDatum)]
        return percentile(values, float(matched.group(1))) if values else None
    stats = cw_models.Statistics([stat], bucket)
    stats.metric_data = in_bucket
    return stats.get_statistics_for_type(stat)


def _metric_stat_result(backend, query, start_time, end_time, scan_by):
    stat, metric = query["MetricStat"], query["MetricStat"]["Metric"]
    matched = _PERCENTILE.fullmatch(stat["Stat"])
    if stat["Stat"] not in STATISTICS and not (matched and 0 < float(matched.group(1)) < 100):
        raise cw_exceptions.InvalidParameterValue(
            f"The local AWS (moto) cannot compute the statistic {stat['Stat']}; "
            f"it computes {', '.join(STATISTICS)} and percentiles p0.01 to p99.99.")
    key = (metric["Namespace"], metric["MetricName"],
           frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
    data = [md for md in metrics_by_identity(backend).get(key, [])
            if (not stat.get("Unit") or md.unit == stat["Unit"])
            and start_time <= _naive_utc(md.timestamp) < end_time]
    period, points = datetime.timedelta(seconds=int(stat["Period"])), []
    count = -(-(end_time - start_time) // period)  # periods starting before end_time
    by_period = _by_period(data, start_time, period, count)
    for i in range(count):
        bucket, in_bucket = start_time + i * period, by_period.get(i)
        value = _statistic(stat["Stat"], in_bucket, bucket) if in_bucket else None
        if value is not None:
            points.append((bucket, value))
    if scan_by != "TimestampAscending":
        points.reverse()
    label = query.get("Label") or f"{metric['MetricName']} {stat['Stat']}"  # moto's default
    return {"id": query["Id"], "label": label,
            "timestamps": [t for t, _ in points], "values": [v for _, v in points],
            "status_code": "Complete"}


cw_models.CloudWatchBackend.get_metric_data = get_metric_data


class InvalidNextToken(cw_exceptions.CloudWatchException):
    code = "InvalidNextToken"


_orig_get_metric_data_response = cw_responses.CloudWatchResponse.get_metric_data


def _get_metric_data_response(self):
    """GetMetricData pages by MaxDatapoints (default 100,800) with a NextToken, as AWS does:
    moto returns everything at once. A page holds every query's result, in order, with up to
    MaxDatapoints points in all; a result with points left for later pages is `PartialData`."""
    params = self._get_params()
    request = {k: v for k, v in params.items() if k not in ("NextToken", "MaxDatapoints")}
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
    offset = 0
    if params.get("NextToken"):
        try:
            token = json.loads(base64.b64decode(params["NextToken"]))
            offset = int(token["offset"]) if token["request"] == digest[:16] else -1
        except (ValueError, TypeError, KeyError):
            offset = -1
        if offset < 0:
            raise InvalidNextToken("The service couldn't process the NextToken.")
    results = _orig_get_metric_data_response(self).result["MetricDataResults"]
    budget, skip, page = int(params.get("MaxDatapoints") or 100800), offset, []
    for result in results:
        values = result["values"][min(skip, len(result["values"])):]
        skip = max(0, skip - len(result["values"]))
        taken = min(len(values), budget)
        budget -= taken
        start = len(result["values"]) - len(values)
        page.append({**result, "values": values[:taken],
                     "timestamps": result["timestamps"][start:start + taken],
                     "status_code": "PartialData" if taken < len(values) else "Complete"})
    answer = {"MetricDataResults": page}
    used = offset + sum(len(r["values"]) for r in page)
    if used < sum(len(r["values"]) for r in results):
        answer["NextToken"] = base64.b64encode(json.dumps(
            {"offset": used, "request": digest[:16]}).encode()).decode()
    return ActionResult(answer)


cw_responses.CloudWatchResponse.get_metric_data = _get_metric_data_response


# ------------------------------------------------------------------ metric alarms, evaluated

cloudwatch_backends = cw_models.cloudwatch_backends

COMPARISONS = {  # the anomaly-detection operators (bands) are not evaluated here
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_EPOCH = datetime.datetime(1970, 1, 1)


class Evaluation(NamedTuple):
    """An alarm's state as evaluated, with a StateReason and StateReasonData after AWS's."""
    state: str
    reason: str
    reason_data: str


def _metric_key(namespace, name, dimensions):
    """A metric's identity: namespace, name and the *set* of its dimensions."""
    return namespace, name, frozenset((d.name, d.value) for d in dimensions)


def _metric_of(datum):
    """A datum's metric identity, kept on the datum (a server's data runs to many thousands)."""
    key = datum.__dict__.get("_lifeguard_metric")
    if key is None:
        key = datum.__dict__["_lifeguard_metric"] = _metric_key(
            datum.namespace, datum.name, datum.dimensions)
    return key


def metrics_by_identity(backend):
    """Every data point of `backend`, grouped by metric identity (`_metric_of`). moto only ever
    appends to `metric_data`, so the grouping is kept on the backend and extended by the points
    added since the last call: a GetMetricData or an alarm evaluation costs the new points, not
    all a long-running server holds (with one lock around moto, a scan of them all held every
    other request up: a Lambda Invoke waited a second behind a GetMetricData). The metrics moto
    derives from other services (`aws_metric_data`) are grouped afresh each time."""
    counted, grouped = backend.__dict__.setdefault("_lifeguard_by_metric", ([0], {}))
    for md in backend.metric_data[counted[0]:]:
        grouped.setdefault(_metric_of(md), []).append(md)
    counted[0] = len(backend.metric_data)
    derived = {}
    for md in backend.aws_metric_data:
        derived.setdefault(_metric_of(md), []).append(md)
    if not derived:
        return grouped
    return {**grouped, **{key: grouped.get(key, []) + points for key, points in derived.items()}}


def _alarm_key(alarm):
    return _metric_key(alarm.namespace, alarm.metric_name, alarm.dimensions)


def _instant(moment):
    """A timestamp as CloudWatch writes them in StateReasonData."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def evaluate_alarm(backend, alarm, now, data=None):
    """The Evaluation (state, reason, reason data) of a single-metric alarm at `now`, as "Using
    Amazon CloudWatch alarms" documents it: the alarm's statistic (Statistic or
    ExtendedStatistic, by `_statistic`: a period published only as statistic sets has no
    percentile) over each of its last EvaluationPeriods (N) whole periods ending at or before
    `now`, aligned to the epoch; a period without a value is missing. ALARM when at least
    DatapointsToAlarm (M, default N) of the N periods breach the threshold, else OK; missing
    periods as TreatMissingData says ("Configuring how CloudWatch alarms treat missing data"):

      * breaching / notBreaching: a missing period counts as breaching / not breaching;
      * missing (the default): all N missing -> INSUFFICIENT_DATA; otherwise only the periods
        with data count (the missing ones neither breach nor not), plus AWS's "premature alarm
        state" rule: ALARM also when the oldest breaching period is at least M periods old and
        every later period breaches or is missing (`- - X - -` alarms even for M = N = 3);
      * ignore: as missing, except that where missing would give INSUFFICIENT_DATA (all N
        missing) or ALARM only by the premature rule, the current state is kept (the doc's
        tables: "Retain current state").

    AWS also looks back over an undocumented "evaluation range" beyond the N periods and, when
    enough real data points are there, evaluates those instead of filling missing ones: not
    done here, only the N periods are read. Anomaly-detection operators and alarms whose state
    cannot be computed keep their state. `data`: the metric's data points, if already found."""
    unchanged = Evaluation(alarm.state_value, alarm.state_reason, alarm.state_reason_data)
    stat = alarm.extended_statistic or alarm.statistic
    if (alarm.comparison_operator not in COMPARISONS or not stat or not alarm.period
            or not alarm.evaluation_periods or alarm.threshold is None):
        return unchanged
    compare, words = COMPARISONS[alarm.comparison_operator]
    threshold, period = float(alarm.threshold), datetime.timedelta(seconds=int(alarm.period))
    n = int(alarm.evaluation_periods)
    m = int(alarm.datapoints_to_alarm or n)
    if data is None:
        data = metrics_by_identity(backend).get(_alarm_key(alarm), [])
    now = _naive_utc(now)
    end = _EPOCH + (now - _EPOCH) // period * period
    points = []  # (period start, value or None), oldest first
    first = end - n * period
    by_period = _by_period([md for md in data if not alarm.unit or md.unit == alarm.unit],
                           first, period, n)
    for i in range(n):
        start, in_bucket = first + i * period, by_period.get(i)
        points.append((start, _statistic(stat, in_bucket, start) if in_bucket else None))
    breaching = [None if v is None else compare(float(v), threshold) for _, v in points]
    missing, treat = breaching.count(None), alarm.treat_missing_data or "missing"
    reason_data = json.dumps({
        "version": "1.0", "queryDate": _instant(now), "startDate": _instant(points[0][0]),
        "statistic" if alarm.statistic else "extendedStatistic": stat,
        "period": int(alarm.period), "threshold": threshold,
        "recentDatapoints": [float(v) for _, v in points if v is not None],
        "evaluatedDatapoints": [{"timestamp": _instant(t), "value": float(v)}
                                for t, v in reversed(points) if v is not None]})
    premature = False
    if treat in ("breaching", "notBreaching"):
        count = sum(treat == "breaching" if b is None else b for b in breaching)
    elif missing == n:
        if treat == "ignore":
            return unchanged
        return Evaluation("INSUFFICIENT_DATA", f"Insufficient Data: {n} datapoint"
                          f"{'s were' if n > 1 else ' was'} unknown.", reason_data)
    else:
        count = breaching.count(True)
        oldest = breaching.index(True) if count else n
        premature = count < m and n - oldest >= m and False not in breaching[oldest:]
        if premature and treat == "ignore":
            return unchanged
    listing = ", ".join(f"{'missing' if v is None else float(v)} ({t:%d/%m/%y %H:%M:%S})"
                        for t, v in reversed(points))
    reason = (f"Threshold Crossed: {count} out of the last {n} datapoints [{listing}] "
              f"{'was' if count == 1 else 'were'} {words} the threshold ({threshold}) "
              f"(minimum {m} datapoint{'s' if m > 1 else ''} for OK -> ALARM transition).")
    if missing and treat in ("breaching", "notBreaching"):
        reason += (f" {missing} missing datapoint{'s were' if missing > 1 else ' was'} "
                   f"treated as {treat}.")
    if premature:
        reason += (f" The oldest breaching datapoint is at least {m} periods old and no later "
                   "one is within the threshold.")
    return Evaluation("ALARM" if count >= m or premature else "OK", reason, reason_data)


def evaluate_alarms(backend, now=None):
    """Evaluates (`evaluate_alarm`) every single-metric alarm of `backend` whose metric
    (namespace, name and the same *set* of dimensions) has data in the backend at all, at `now`
    (default: the current time), and sets the state found where it differs, as SetAlarmState
    does (state, reason, reason data, state timestamp; moto keeps the previous one in the
    alarm's history). An alarm on a metric nobody published is left as it is: tests drive such
    alarms with SetAlarmState. Composite alarms and alarms on metric math (`Metrics`) are not
    evaluated."""
    now = _naive_utc(now or utcnow())
    by_metric = metrics_by_identity(backend)
    for alarm in list(backend.alarms.values()):
        data = alarm.metric_name and by_metric.get(_alarm_key(alarm))
        if alarm.rule is not None or alarm.metric_data_queries or not data:
            continue
        found = evaluate_alarm(backend, alarm, now, data)
        if found.state != alarm.state_value:
            alarm.update_state(found.reason, found.reason_data, found.state)


def current_alarms(backend, names):
    """The alarms of `backend` named (those that exist, in the order named), evaluated now."""
    evaluate_alarms(backend)
    return [backend.alarms[name] for name in names if name in backend.alarms]


def _evaluating_first(handler):
    """A CloudWatch response handler that evaluates the backend's alarms before it answers."""
    def handle(self):
        evaluate_alarms(self.cloudwatch_backend)
        return handler(self)
    handle.__doc__ = f"moto's {handler.__name__}, on alarms evaluated now (evaluate_alarms)."
    return handle


def _put_metric_data_then_evaluate(self):
    """moto's PutMetricData, then the backend's alarms evaluated on the data as it now is."""
    result = _orig_put_metric_data_response(self)
    evaluate_alarms(self.cloudwatch_backend)
    return result


_orig_put_metric_data_response = cw_responses.CloudWatchResponse.put_metric_data
cw_responses.CloudWatchResponse.put_metric_data = _put_metric_data_then_evaluate
for _name in ("describe_alarms", "describe_alarms_for_metric"):
    setattr(cw_responses.CloudWatchResponse, _name,
            _evaluating_first(getattr(cw_responses.CloudWatchResponse, _name)))
