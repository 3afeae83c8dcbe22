"""Tests of the Sasha integration on a real Home Assistant core, a real broker and a real Sasha."""
