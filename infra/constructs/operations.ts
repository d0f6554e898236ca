import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { SERVICE_NAME } from '#shared/observability';

/** The custom metric the request sweeper emits: requests past their one-month deadline and not finished. */
export const OVERDUE_METRIC_NAME = 'OverdueRequests';
/** The custom metric the request sweeper emits: canceled requests whose promoters are still archived. */
export const PENDING_RESTORES_METRIC_NAME = 'PendingRestores';
/** The custom metric the request sweeper emits: cancels whose trail is sealed but whose receipt could not be issued. */
export const PENDING_CANCEL_RECEIPTS_METRIC_NAME = 'PendingCancelReceipts';
/** The custom metric the request sweeper emits: requests whose workflow kept failing after its resumes. */
export const STUCK_REQUESTS_METRIC_NAME = 'StuckRequests';

export interface OperationsProps {
  /** Powertools metrics namespace of the functions. */
  readonly metricsNamespace: string;
  /** Subscribed to the alarm topic when given. */
  readonly alarmEmail?: string;
}

/**
 * Where problems go: an encrypted SNS topic and the alarms that publish to it. Every alarm fires on the first
 * occurrence, since each one stands for an erasure, or a request for one, that did not go as it should.
 */
export class Operations extends Construct {
  readonly topic: sns.Topic;
  readonly #action: SnsAction;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);

    // A customer managed key because CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.
    // Kept apart from the data key so that key's policy never names a service beyond DynamoDB and Secrets Manager.
    const key = new kms.Key(this, 'TopicKey', {
      description: `${SERVICE_NAME}: encrypts the alarm topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    // Only this account's alarms may use it: without the conditions, CloudWatch acting for any account could (the
    // confused deputy, https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
    const stack = Stack.of(this);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `${SERVICE_NAME} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.#action = new SnsAction(this.topic);

    this.#serviceMetricAlarm(
      OVERDUE_METRIC_NAME,
      props.metricsNamespace,
      'Erasure requests are past their one-month deadline (GDPR Art. 12(3)) and not finished',
    );
    this.#serviceMetricAlarm(
      PENDING_RESTORES_METRIC_NAME,
      props.metricsNamespace,
      'Canceled erasure requests whose FirstPromoter promoters could not be restored yet (retried hourly)',
    );
    this.#serviceMetricAlarm(
      PENDING_CANCEL_RECEIPTS_METRIC_NAME,
      props.metricsNamespace,
      'Canceled erasure requests whose trail is sealed but whose receipt could not be issued yet (retried hourly)',
    );
    this.#serviceMetricAlarm(
      STUCK_REQUESTS_METRIC_NAME,
      props.metricsNamespace,
      'Erasure requests whose workflow keeps failing after three resumes: an operator must look',
    );
  }

  /** An alarm on one of the hourly metrics the request sweeper publishes (Powertools, dimension `service`). */
  #serviceMetricAlarm(metricName: string, namespace: string, description: string): void {
    this.alarm(metricName, {
      metric: new cloudwatch.Metric({
        namespace,
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.hours(1),
      }),
      description,
    });
  }

  /** An alarm at `>= 1` over one period, publishing to the topic; no data means nothing went wrong. */
  alarm(id: string, props: { metric: cloudwatch.IMetric; description: string }): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric: props.metric,
      alarmDescription: props.description,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.#action);
    return alarm;
  }
}
