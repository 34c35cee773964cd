"""Code the tests share: real-component helpers and generated traffic, never test cases."""
