// Entry to human review: HITL shapes, decision validation, and the review node.
export * from "./hitl.js";
export { buildReviewRequest, createReviewNode, progressOf, type ReviewNodeOptions } from "./review-node.js";
