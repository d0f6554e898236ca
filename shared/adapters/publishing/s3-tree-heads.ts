import { PutObjectCommand, type S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { TreeHeadPublisher } from '#shared/ports/evidence';

/**
 * Publishes signed tree heads to an S3 bucket with Object Lock in compliance mode: the bucket's default retention (the
 * audit retention) applies to every object, and in compliance mode nobody, the account's root user included, can
 * overwrite or delete a locked version before it expires. One object per head, `tree-heads/<size>.json`, written only
 * if absent (`If-None-Match: *`), so a retry does not add a version.
 */
export class S3TreeHeadPublisher implements TreeHeadPublisher {
  readonly #s3: S3Client;
  readonly #bucket: string;

  constructor(s3: S3Client, bucket: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
  }

  async publish(treeSize: number, jws: string): Promise<void> {
    try {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: treeHeadObjectKey(treeSize),
          Body: JSON.stringify({ treeSize, treeHead: jws }),
          ContentType: 'application/json',
          IfNoneMatch: '*',
          // Object Lock requires an integrity checksum on every put.
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    } catch (error) {
      // 412: the head is there already (published by an earlier attempt).
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 412) return;
      throw error;
    }
  }
}

/** `tree-heads/` and the size zero-padded to 16 digits, so a listing is in size order. */
export const treeHeadObjectKey = (treeSize: number): string => `tree-heads/${String(treeSize).padStart(16, '0')}.json`;
