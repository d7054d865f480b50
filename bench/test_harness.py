"""Unit tests of bench/harness.py's pure helpers: `python3 -m unittest bench/test_harness.py`."""

import unittest

import harness


class HelpersTest(unittest.TestCase):
    def test_parse_gnu_time_sums_user_and_system_and_reads_peak_rss(self):
        text = """\tCommand being timed: "true"
\tUser time (seconds): 1.25
\tSystem time (seconds): 0.50
\tMaximum resident set size (kbytes): 20480
"""
        cpu, rss = harness.parse_gnu_time(text)
        self.assertAlmostEqual(cpu, 1.75)
        self.assertEqual(rss, 20480)

    def test_s3_operations_counts_routed_requests_by_name(self):
        text = """  DEBUG s3s::ops: resolved route, op: GetObject, s3_path: Object { bucket: "b" }
    in s3s::ops::prepare
  DEBUG s3s::ops: checked access, op: GetObject, s3_path: Object { bucket: "b" }
  DEBUG s3s::ops: resolved route, op: PutObject, s3_path: Object { bucket: "b" }
  DEBUG s3s::ops: resolved route, op: PutObject, s3_path: Object { bucket: "b" }
"""
        self.assertEqual(harness.s3_operations(text), {"GetObject": 1, "PutObject": 2})

    def test_series_shows_median_with_min_and_max(self):
        s = harness.Series([3.0, 1.0, 2.0])
        self.assertEqual(s.fmt(), "2.00 (1.00–3.00)")
        self.assertEqual(harness.Series([5.0]).fmt(), "5.00")
        self.assertEqual(harness.Series().fmt(), "n/a")
        self.assertEqual(harness.ratio_fmt(harness.Series([0.5, 0.5])), "0.50×")

    def test_table_aligns_numbers_right(self):
        out = harness.table(["a", "b"], [["x", "1"]])
        self.assertEqual(out.splitlines()[1], "| --- | ---: |")
        self.assertEqual(out.splitlines()[2], "| x | 1 |")


if __name__ == "__main__":
    unittest.main()
