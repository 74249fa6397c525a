"""SNS subscriptions as AWS has them where moto 5.2.5 differs: a subscription whose endpoint
must confirm it (protocols email, email-json, http, https) stays pending until it does.

  * pending: ListSubscriptionsByTopic shows its SubscriptionArn as "PendingConfirmation" (as AWS
    does), and GetSubscriptionAttributes its PendingConfirmation as "true";
  * confirmed by the control endpoint sns/confirm-subscription {"topicArn", "endpoint"}, which
    stands for the recipient following the link in the confirmation message.

Subscriptions to SQS, Lambda and the other AWS endpoints are confirmed at once, as on AWS.
"""

from moto.core.responses import ActionResult
from moto.sns import models as sns_models
from moto.sns import responses as sns_responses

from .state import every_backend

# Protocols whose endpoint receives a confirmation request and must answer it.
CONFIRMED_BY_ENDPOINT = {"email", "email-json", "http", "https"}

_original_subscribe = sns_models.SNSBackend.subscribe


def _subscribe(self, topic_arn, endpoint, protocol):
    subscription = _original_subscribe(self, topic_arn, endpoint, protocol)
    if protocol in CONFIRMED_BY_ENDPOINT and not getattr(subscription, "endpoint_confirmed", False):
        subscription.attributes["PendingConfirmation"] = "true"
    return subscription


def _pending(subscription) -> bool:
    return str(subscription.attributes.get("PendingConfirmation", "false")).lower() == "true"


def _list_subscriptions_by_topic_response(self):
    topic_arn = self._get_param("TopicArn")
    subscriptions, next_token = self.backend.list_subscriptions_by_topic(
        topic_arn, next_token=self._get_param("NextToken"))
    listed = [{
        "SubscriptionArn": "PendingConfirmation" if _pending(s) else s.arn,
        "Owner": s.account_id,
        "Protocol": s.protocol,
        "Endpoint": s.endpoint,
        "TopicArn": s.topic.arn,
    } for s in subscriptions]
    return ActionResult({"Subscriptions": listed, "NextToken": next_token})


sns_models.SNSBackend.subscribe = _subscribe
sns_responses.SNSResponse.list_subscriptions_by_topic = _list_subscriptions_by_topic_response


def confirm_subscription(data):
    """Control endpoint sns/confirm-subscription -> (HTTP status, body): see control.py."""
    topic_arn, endpoint = data.get("topicArn"), data.get("endpoint")
    if not topic_arn or not endpoint:
        return 400, {"message": "need 'topicArn' and 'endpoint'"}
    for backend in every_backend(sns_models.sns_backends):
        for subscription in backend.subscriptions.values():
            if subscription.topic.arn == topic_arn and subscription.endpoint == endpoint:
                subscription.endpoint_confirmed = True
                subscription.attributes["PendingConfirmation"] = "false"
                return 200, {"subscriptionArn": subscription.arn}
    return 404, {"message": f"no subscription of {endpoint} to {topic_arn}"}
