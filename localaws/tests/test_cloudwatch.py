"""The local CloudWatch: its percentiles (nearest rank over the values a metric was published
with) and its evaluation of metric alarms, with moto in-process and the evaluation's clock pinned
(`utcnow` of stand_in.cloudwatch) where a test moves through minutes.

    .venv/bin/python -m pytest -q localaws/tests/test_cloudwatch.py
"""

import datetime
import json
import time
import unittest
from unittest import mock

import boto3
from moto import mock_aws

from inprocess import without_endpoints
from stand_in import cloudwatch
from stand_in.cloudwatch import evaluate_alarm, percentile

_environ = None


def setUpModule():
    global _environ
    _environ = without_endpoints()


def tearDownModule():
    _environ.stop()


class PercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        hundred = list(range(1, 101))
        self.assertEqual(percentile(hundred, 50), 50)
        self.assertEqual(percentile(hundred, 99), 99)
        self.assertEqual(percentile(hundred, 99.5), 100)
        self.assertEqual(percentile(hundred, 0.01), 1)
        self.assertEqual(percentile([4, 1, 3, 2], 50), 2)
        self.assertEqual(percentile([4, 1, 3, 2], 75.01), 4)
        self.assertEqual(percentile([7.5], 99.9), 7.5)

    def test_a_tail_the_mean_hides(self):
        # 98 fast values and two slow ones: the mean moves 4 %, p99 is the slow value.
        values = [100.0] * 98 + [300.0] * 2
        self.assertEqual(sum(values) / len(values), 104.0)
        self.assertEqual(percentile(values, 99), 300.0)
        self.assertEqual(percentile(values, 98), 100.0)


ACCOUNT, REGION = "123456789012", "us-east-1"
NAMESPACE, METRIC = "Lifeguard/Test", "CanaryFailing"
DIMS = [{"Name": "FunctionName", "Value": "fn"}, {"Name": "Alias", "Value": "live"}]
MINUTE = datetime.timedelta(minutes=1)


def minute_start(moment):
    return moment.replace(second=0, microsecond=0)


class AlarmCase(unittest.TestCase):
    """moto in-process with a CloudWatch client; `self.now` is the evaluation's clock (pinned
    unless `real_clock`), `self.t` the start of the minute it is in."""
    real_clock = False

    def setUp(self):
        moto = mock_aws()
        moto.start()
        self.addCleanup(moto.stop)
        self.cw = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="testing",
                               aws_secret_access_key="testing")
        self.backend = cloudwatch.cloudwatch_backends[ACCOUNT][REGION]
        self.t = minute_start(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))
        self.now = self.t + datetime.timedelta(seconds=30)
        if not self.real_clock:
            clock = mock.patch.object(cloudwatch, "utcnow", side_effect=lambda: self.now)
            clock.start()
            self.addCleanup(clock.stop)

    def put_alarm(self, name, **config):
        config = {"Namespace": NAMESPACE, "MetricName": METRIC, "Dimensions": DIMS,
                  "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0,
                  "ComparisonOperator": "GreaterThanOrEqualToThreshold", **config}
        self.cw.put_metric_alarm(AlarmName=name, **{k: v for k, v in config.items()
                                                    if v is not None})
        return self.backend.alarms[name]

    def put(self, at, value=None, metric=METRIC, dims=DIMS, namespace=NAMESPACE, **datum):
        if value is not None:
            datum["Value"] = value
        self.cw.put_metric_data(Namespace=namespace, MetricData=[
            {"MetricName": metric, "Dimensions": dims, "Timestamp": at, **datum}])

    def described(self, name):
        (alarm,) = self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return alarm

    def state(self, name):
        return self.described(name)["StateValue"]


class AlarmEvaluationTest(AlarmCase):
    def test_maximum_alarm_goes_to_alarm_and_back_to_ok(self):
        """The in-flight judge's alarm: Maximum >= 1 over a minute, missing data not breaching."""
        self.put_alarm("judge", TreatMissingData="notBreaching")
        self.cw.set_alarm_state(AlarmName="judge", StateValue="OK", StateReason="created")
        self.put(self.t - datetime.timedelta(seconds=30), 1.0)  # in the last whole minute
        alarm = self.described("judge")
        self.assertEqual(alarm["StateValue"], "ALARM")
        self.assertTrue(alarm["StateReason"].startswith(
            "Threshold Crossed: 1 out of the last 1 datapoints [1.0 ("), alarm["StateReason"])
        self.assertIn("was greater than or equal to the threshold (1.0)", alarm["StateReason"])
        data = json.loads(alarm["StateReasonData"])
        self.assertEqual((data["recentDatapoints"], data["period"], data["statistic"]),
                         ([1.0], 60, "Maximum"))
        self.assertEqual([a["AlarmName"] for a in self.cw.describe_alarms(
            StateValue="ALARM")["MetricAlarms"]], ["judge"])
        self.assertEqual([a.state_value for a in cloudwatch.current_alarms(
            self.backend, ["judge", "no-such-alarm"])], ["ALARM"])

        self.now += MINUTE  # the 1 is two minutes back now; this minute's 0 is the last one
        self.put(self.t + datetime.timedelta(seconds=10), 0.0)
        self.assertEqual(self.state("judge"), "OK")
        self.now += MINUTE  # a silent minute: not breaching
        self.assertEqual(self.state("judge"), "OK")
        self.put(self.now - MINUTE, 3.0)  # late data for the last whole minute
        self.assertEqual(self.state("judge"), "ALARM")
        self.now += MINUTE
        self.put(self.now - MINUTE, 0.0)
        self.assertEqual(self.state("judge"), "OK")
        self.assertEqual(len(self.backend.alarms["judge"].history), 5)  # moto keeps old states

    def test_all_periods_missing(self):
        """No data in the evaluated periods (the metric was published before): each
        TreatMissingData as documented; `missing` (the default) gives INSUFFICIENT_DATA."""
        self.put(self.t - 10 * MINUTE, 5.0)
        for treat in ("missing", "notBreaching", "breaching", "ignore"):
            self.put_alarm(treat, TreatMissingData=treat if treat != "missing" else None,
                           EvaluationPeriods=2)
            self.cw.set_alarm_state(AlarmName=treat, StateValue="ALARM", StateReason="by test")
        self.assertEqual(self.state("missing"), "INSUFFICIENT_DATA")
        self.assertEqual(self.described("missing")["StateReason"],
                         "Insufficient Data: 2 datapoints were unknown.")
        self.assertEqual(self.state("notBreaching"), "OK")
        self.assertEqual(self.state("breaching"), "ALARM")
        self.assertEqual((self.state("ignore"), self.described("ignore")["StateReason"]),
                         ("ALARM", "by test"))  # the current state is kept
        reason = self.described("notBreaching")["StateReason"]
        self.assertTrue(reason.endswith("2 missing datapoints were treated as notBreaching."),
                        reason)

    def test_two_out_of_three(self):
        self.put_alarm("m-of-n", EvaluationPeriods=3, DatapointsToAlarm=2)
        for minutes_ago, value in ((3, 5.0), (2, 0.0), (1, 5.0)):  # X 0 X
            self.put(self.t - minutes_ago * MINUTE, value)
        self.assertEqual(self.state("m-of-n"), "ALARM")
        self.assertIn("2 out of the last 3 datapoints", self.described("m-of-n")["StateReason"])
        self.now += MINUTE
        self.put(self.t, 0.0)  # 0 X 0
        self.assertEqual(self.state("m-of-n"), "OK")
        self.now += MINUTE
        self.put(self.t + MINUTE, 2.0)  # X 0 X
        self.assertEqual(self.state("m-of-n"), "ALARM")

    def test_percentile_alarm(self):
        """ExtendedStatistic p99 by nearest rank over the published values; a period published
        only as statistic sets has no percentile, so it is missing."""
        self.put_alarm("p99", Statistic=None, ExtendedStatistic="p99", Threshold=250.0,
                       ComparisonOperator="GreaterThanThreshold", MetricName="Duration")
        self.put(self.t - MINUTE, metric="Duration", Values=[100.0, 300.0], Counts=[99, 1])
        self.assertEqual(self.state("p99"), "OK")  # p99 of 100 values is the 99th: 100
        self.put(self.t - MINUTE, metric="Duration", Values=[300.0])  # now 2 of 101 slow
        self.assertEqual(self.state("p99"), "ALARM")
        self.now += MINUTE
        self.put(self.t, metric="Duration", StatisticValues={
            "SampleCount": 100, "Sum": 60000, "Minimum": 300, "Maximum": 900})
        alarm = self.described("p99")
        self.assertEqual(alarm["StateValue"], "INSUFFICIENT_DATA", alarm["StateReason"])
        self.assertEqual(json.loads(alarm["StateReasonData"])["extendedStatistic"], "p99")

    def test_alarm_on_an_unpublished_metric_keeps_its_set_state(self):
        self.put_alarm("unpublished", MetricName="NeverPublished")
        self.put_alarm("published")
        self.put(self.t - MINUTE, 0.0)
        for name in ("unpublished", "published"):
            self.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="by test")
        self.put(self.t - MINUTE, 0.0, metric="Other")
        alarm = self.described("unpublished")
        self.assertEqual((alarm["StateValue"], alarm["StateReason"]), ("ALARM", "by test"))
        # SetAlarmState lasts until the next evaluation, as AWS documents, when there is data.
        self.assertEqual(self.state("published"), "OK")

    def test_dimensions_are_matched_as_a_set(self):
        self.put_alarm("set")
        self.put_alarm("superset", Dimensions=DIMS + [{"Name": "ExecutedVersion", "Value": "2"}])
        self.put_alarm("subset", Dimensions=DIMS[:1])
        self.put_alarm("other-namespace", Namespace="Other")
        self.put(self.t - MINUTE, 4.0, dims=list(reversed(DIMS)))  # another order: same metric
        self.assertEqual(self.state("set"), "ALARM")
        for name in ("superset", "subset", "other-namespace"):  # no data of theirs: unchanged
            self.assertEqual(self.described(name)["StateReason"],
                             "Unchecked: Initial alarm creation", name)
        self.cw.set_alarm_state(AlarmName="subset", StateValue="ALARM", StateReason="by test")
        self.put(self.t - MINUTE, 0.0, dims=DIMS[:1])
        self.assertEqual(self.state("subset"), "OK")
        self.assertEqual(self.described("subset")["StateReason"].split(" [")[0],
                         "Threshold Crossed: 0 out of the last 1 datapoints")
        self.assertEqual(self.state("set"), "ALARM")


class MissingDataTablesTest(AlarmCase):
    """The tables of "How alarm state is evaluated when data is missing" (EvaluationPeriods 3),
    as the last three periods of their rows read: 0 not breaching, X breaching, - missing,
    most recent last; "keep" is "Retain current state"."""

    def evaluated(self, pattern, m, treat, current="OK"):
        name = f"{pattern}-{m}-{treat}-{current}".replace(" ", "")
        for age, mark in enumerate(reversed(pattern.split()), start=1):
            if mark != "-":
                self.put(self.t - age * MINUTE, 5.0 if mark == "X" else 0.0, metric=name)
        alarm = self.put_alarm(name, MetricName=name, EvaluationPeriods=3, DatapointsToAlarm=m,
                               TreatMissingData=treat)
        self.cw.set_alarm_state(AlarmName=name, StateValue=current, StateReason="current")
        return evaluate_alarm(self.backend, alarm, self.now).state

    def check_rows(self, m, rows):
        for pattern, expected in rows:
            for treat, state in zip(("missing", "ignore", "breaching", "notBreaching"), expected):
                for current in ("OK", "ALARM"):
                    want = current if state == "keep" else state
                    self.assertEqual(self.evaluated(pattern, m, treat, current), want,
                                     (pattern, m, treat, current))

    def test_three_out_of_three(self):
        self.check_rows(3, [
            ("X X X", ["ALARM"] * 4),
            ("0 X X", ["OK"] * 4),
            ("- - 0", ["OK", "OK", "OK", "OK"]),
            ("- - -", ["INSUFFICIENT_DATA", "keep", "ALARM", "OK"]),
            ("X - -", ["ALARM", "keep", "ALARM", "OK"]),  # premature alarm state
            ("- - X", ["OK", "OK", "ALARM", "OK"]),  # not yet: the next may be fine
            ("- X -", ["OK", "OK", "ALARM", "OK"]),
        ])

    def test_two_out_of_three(self):
        self.check_rows(2, [
            ("X 0 X", ["ALARM"] * 4),
            ("- - 0", ["OK", "OK", "ALARM", "OK"]),
            ("- X -", ["ALARM", "keep", "ALARM", "OK"]),  # premature alarm state
            ("- - X", ["OK", "OK", "ALARM", "OK"]),
        ])

    def test_comparison_operators(self):
        self.put(self.t - MINUTE, 1.0)
        cases = {"GreaterThanThreshold": "OK", "GreaterThanOrEqualToThreshold": "ALARM",
                 "LessThanThreshold": "OK", "LessThanOrEqualToThreshold": "ALARM",
                 "LessThanLowerOrGreaterThanUpperThreshold": "INSUFFICIENT_DATA"}  # kept
        for op, want in cases.items():
            alarm = self.put_alarm(op, ComparisonOperator=op)
            alarm.state_value = "INSUFFICIENT_DATA"
            self.assertEqual(evaluate_alarm(self.backend, alarm, self.now).state, want, op)


class RealClockTest(AlarmCase):
    """DescribeAlarms evaluates at the current time: a datapoint half a minute before this
    minute began is in the last whole minute (unless a minute ends meanwhile: wait that out)."""
    real_clock = True

    def setUp(self):
        if datetime.datetime.now().second >= 55:
            time.sleep(6)
        super().setUp()

    def test_describe_alarms_evaluates_now(self):
        self.put_alarm("now", TreatMissingData="notBreaching")
        self.put(self.t - datetime.timedelta(seconds=30), 2.0)
        self.assertEqual(self.state("now"), "ALARM")


if __name__ == "__main__":
    unittest.main()
