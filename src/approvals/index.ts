// Entry to human review: HITL shapes, decision validation, the review node and the "did this happen?" request.
export * from "./hitl.js";
export { buildDoubtRequest } from "./doubt.js";
export { buildReviewRequest, createReviewNode, progressOf, type ReviewNodeOptions } from "./review-node.js";
