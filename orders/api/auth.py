from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import DomainError
from core.validation import validate_input

from ..services.customers import customer_register


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    class RegisterInput(serializers.Serializer):
        username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
        email = serializers.EmailField()
        password = serializers.CharField(max_length=128, write_only=True)

    class RegisterOutput(serializers.Serializer):
        username = serializers.CharField()
        email = serializers.EmailField()
        token = serializers.CharField()

    @extend_schema(request=RegisterInput, responses={201: RegisterOutput}, tags=["auth"], auth=[])
    def post(self, request):
        data = validate_input(
            self.RegisterInput, request.data, message="The account could not be created."
        )
        user, token = customer_register(**data)
        body = {"username": user.username, "email": user.email, "token": token}
        return Response(self.RegisterOutput(body).data, status=status.HTTP_201_CREATED)


class BadCredentials(DomainError):
    code = "AUTHENTICATION_REQUIRED"
    http_status = 401
    default_message = "Unable to log in with those credentials."


class TokenView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    class TokenInput(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, write_only=True)

    class TokenOutput(serializers.Serializer):
        token = serializers.CharField()

    @extend_schema(
        request=TokenInput,
        responses={200: TokenOutput, 401: OpenApiResponse(description="Bad credentials")},
        tags=["auth"],
        auth=[],
    )
    def post(self, request):
        data = validate_input(
            self.TokenInput, request.data, message="Send a username and a password."
        )
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise BadCredentials()
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
