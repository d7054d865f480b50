//! tufd update engine.

