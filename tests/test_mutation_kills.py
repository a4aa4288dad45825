"""Tests written to kill mutants that survived scripts/mutation_test.sh (issue 17): each asserts a behaviour
(a boundary, a default, a dtype, a message, a rule at a tie) that no other test pinned down. docs/testing.md
lists the mutants and which test kills each."""
