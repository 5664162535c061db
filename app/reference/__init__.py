"""Actors and reference data: centers, universities, banks, agreements, enrolment,
and China's working-day calendar."""
