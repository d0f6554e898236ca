import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { CALLBACK_ASL_PATH, localDefinition, RECEIPT_ASL_PATH } from '#infra/local/workflow-engine';

/**
 * The local engine runs the workflow without validating it at every start (see LocalWorkflowEngine): it is validated
 * here, once, with the validator aws-local-stepfunctions would have run.
 */
describe('the workflow definition', () => {
  it('is a valid state machine for aws-local-stepfunctions, as the local runtime runs it', () => {
    expect(() => new StateMachine(localDefinition())).not.toThrow();
  });

  it('and so is the completion callbacks definition', () => {
    expect(() => new StateMachine(localDefinition(CALLBACK_ASL_PATH))).not.toThrow();
  });

  it("and so is the receipt definition, which ends within StartSyncExecution's five minutes", () => {
    const definition = localDefinition(RECEIPT_ASL_PATH) as { TimeoutSeconds?: number };

    expect(() => new StateMachine(localDefinition(RECEIPT_ASL_PATH))).not.toThrow();
    expect(definition.TimeoutSeconds).toBeLessThanOrEqual(300);
  });

  it('would be refused if it were not (the check can fail)', () => {
    const broken = { ...localDefinition(), StartAt: 'NoSuchState' };

    expect(() => new StateMachine(broken)).toThrow();
  });
});
