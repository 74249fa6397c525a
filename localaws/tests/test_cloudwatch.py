"""The local CloudWatch's percentiles: nearest rank over the values a metric was published with."""

import unittest

from stand_in.cloudwatch import percentile


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


if __name__ == "__main__":
    unittest.main()
