//! Fixtures for the integration tests: the local AWS stand-in and its seeding.
