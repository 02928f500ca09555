// HR agent state: the same as onboarding's (the provisioning sub-agent shares it with its parent).
export { NewHire, OnboardingInput as HrInput, OnboardingState as HrState, type OnboardingStateValue as HrStateValue } from "../onboarding/state.js";
